"""The compatibility table and the ``python -m reports`` command line."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from harness import proc
from harness.labels import IMAGE_LAB, IMAGE_PIN
from harness.vocabulary import ErrorKind
from reports import RunReport, table
from reports.cli import main
from reports.schema import CheckOutcome, PhaseName, RawHost, Security

REPO = Path(__file__).resolve().parent.parent
CI_HOST: RawHost = {"hostname": "runner-12", "ci": True, "platform": "Linux-6.1-x86_64", "python": "3.11.7"}
DESK_HOST: RawHost = {"hostname": "lab-box", "ci": False, "platform": "Linux-6.8-x86_64", "python": "3.11.9"}
CHECKS = [
    ("a", "pod-healthy", "suites/test_pod.py::test_every_container_runs_without_restarts"),
    ("b", "core-data-ping", "suites/test_api.py::test_core_data_answers_ping"),
    ("c", "event-flows", "suites/test_events.py::test_virtual_device_events_reach_core_data"),
]


LAB_PIN = {IMAGE_LAB: "true", IMAGE_PIN: "github.com/edgexfoundry/edgex-go@v4.0.1 (v4.0.1)"}


def write_run(
    directory: Path,
    *,
    distro: str,
    release: str,
    finished: str,
    failing: dict[str, str] | None = None,
    error: tuple[ErrorKind, PhaseName, str] | None = None,
    interrupted: PhaseName | None = None,
    host: RawHost = CI_HOST,
    fingerprint: dict[str, str] | None = None,
    versions: dict[str, str] | None = None,
    image_labels: dict[str, str] | None = None,
    security: Security = "off",
) -> Path:
    """Write a realistic report that finished at `finished` (``YYYY-MM-DDTHH:MM``) and return its path."""
    end = datetime.fromisoformat(finished).replace(tzinfo=UTC)
    moments = iter([end.replace(minute=0), end])
    run = RunReport(
        distro=distro,
        mode="embedded" if distro == "podman" else "provisioned",
        release=release,
        image_source="lab",
        security=security,
        run_id=f"{end:%Y%m%dT%H%M%SZ}-{distro}" + ("-secure" if security == "on" else ""),
        tool_version="0.1.0",
        git_commit="abc123",
        host=host,
        clock=lambda: next(moments),
    )
    run.set_fingerprint(fingerprint or {})
    for component, version in (versions or {}).items():
        run.set_version(component, version)
    labels = LAB_PIN if image_labels is None else image_labels
    run.set_images(
        [
            {
                "component": component,
                "ref": f"localhost/edgex-smoke-lab/{component}:{release}",
                "digest": None,
                "labels": labels,
            }
            for component in (versions or {"core-data": release})
        ]
    )
    run.record_phase("provision", 0.1)
    if error is not None:
        run.fail(*error)
    else:
        run.record_phase("apply", 1.6)
        run.record_phase("ready", 4.4)
        for check_id, name, nodeid in CHECKS:
            reason = (failing or {}).get(check_id)
            outcome: CheckOutcome = "failed" if reason else "passed"
            run.record_check(
                check_id=check_id,
                name=name,
                nodeid=nodeid,
                outcome=outcome,
                duration_s=0.4,
                reason=reason or "",
                kind="product" if reason else None,
            )
    if interrupted is not None:
        run.mark_interrupted(interrupted)
    return run.write(directory)


PODMAN = {"podman_version": "4.3.1", "oci_runtime": "runc 1.1.5", "cgroup_mode": "v1 (hybrid)"}
K3S = {"k3s_version": "v1.34.4+k3s1", "kubernetes_version": "v1.34.4+k3s1", "container_runtime": "containerd://2.1"}


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    """Five runs: podman twice (an old pass, then a newer failure), k3s infra error, microk8s on 3.1, kubeedge cut."""
    out = tmp_path / "out"
    v402 = {"core-data": "4.0.2", "core-metadata": "4.0.2"}
    write_run(out, distro="podman", release="4.0", finished="2026-11-20T10:05", fingerprint=PODMAN, versions=v402)
    write_run(
        out,
        distro="podman",
        release="4.0",
        finished="2026-11-26T15:39",
        fingerprint=PODMAN,
        versions=v402,
        failing={"b": "GET /api/v3/ping: status 503 | body <html>down</html>", "c": "no event within 60 s"},
    )
    write_run(
        out,
        distro="k3s",
        release="4.0",
        finished="2026-11-25T08:30",
        fingerprint=K3S,
        error=("infra", "ready", "pod edgex not Ready after 300 s; last state ImagePullBackOff"),
    )
    write_run(
        out,
        distro="microk8s",
        release="3.1",
        finished="2026-11-24T12:00",
        host=DESK_HOST,
        fingerprint={"kubernetes_version": "v1.31.4", "microk8s_version": "1.31/stable"},
        versions={"core-data": "3.1.1"},
    )
    write_run(out, distro="kubeedge", release="4.0", finished="2026-11-23T09:00", interrupted="ready")
    return out


def render(directory: Path, **expect: list[str]) -> str:
    sources = table.load_sources(table.find_report_files([directory]))
    return table.render(sources, command="python -m reports table reports/out", **expect)


def split_row(line: str) -> list[str]:
    """Cells of a Markdown table row, honouring ``\\|`` escapes."""
    assert line.startswith("| ") and line.endswith(" |"), line
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line[1:-1])]


def matrix(markdown: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """The matrix rows keyed by (distro, release, security), each a header → cell mapping."""
    lines = markdown.split("## Matrix\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    header = split_row(lines[0])
    rows = {}
    for line in lines[2:]:
        cells = dict(zip(header, split_row(line), strict=True))
        distro = re.sub(r"^\[(.*)\]\(#.*\)$", r"\1", cells["Distro"])
        rows[distro, cells["EdgeX"], cells["Security"]] = cells
    return rows


EXPECT = {"expect_distros": ["podman", "k8s", "k3s", "microk8s", "kubeedge"], "expect_releases": ["4.0"]}


def test_table_starts_with_a_generated_header_and_the_command(report_dir: Path) -> None:
    text = render(report_dir, **EXPECT)
    assert text.startswith("# EdgeX compatibility\n\n<!-- Generated by edgex-smoke; do not edit by hand. -->\n")
    assert "```sh\npython -m reports table reports/out\n```" in text
    assert "Generated from 5 report file(s)" in text


def test_table_has_one_row_per_distro_and_release_with_not_yet_run_for_the_rest(report_dir: Path) -> None:
    rows = matrix(render(report_dir, **EXPECT))
    assert list(rows) == [
        ("podman", "4.0", "off"),
        ("podman", "3.1", "off"),
        ("k8s", "4.0", "off"),
        ("k8s", "3.1", "off"),
        ("k3s", "4.0", "off"),
        ("k3s", "3.1", "off"),
        ("microk8s", "4.0", "off"),
        ("microk8s", "3.1", "off"),
        ("kubeedge", "4.0", "off"),
        ("kubeedge", "3.1", "off"),
    ]
    for distro, release in [("podman", "3.1"), ("k8s", "4.0"), ("k8s", "3.1"), ("k3s", "3.1"), ("microk8s", "4.0")]:
        cell = (distro, release, "off")
        assert rows[cell]["Status"] == "not yet run"
        assert rows[cell]["Date (UTC)"] == "—"


def test_table_cells_show_what_the_latest_report_says(report_dir: Path) -> None:
    rows = matrix(render(report_dir, **EXPECT))
    podman = rows["podman", "4.0", "off"]
    assert podman["Distro"] == "[podman](#podman-4-0)"
    assert podman["Status"] == "❌ failed 1/3: b, c"  # the newer failure replaced the older pass
    assert podman["Date (UTC)"] == "2026-11-26"
    assert podman["EdgeX version"] == "4.0.2"
    assert podman["Target"] == "podman 4.3.1"
    assert podman["Images"] == "lab"
    assert podman["Security"] == "off"
    assert podman["Ran on"] == "CI"

    k3s = rows["k3s", "4.0", "off"]
    assert k3s["Status"] == "⚠️ infra-error (ready): pod edgex not Ready after 300 s; last state ImagePullBackOff"
    assert k3s["EdgeX version"] == "unknown"  # no check ever asked EdgeX
    assert k3s["Target"] == "k3s v1.34.4+k3s1 / Kubernetes v1.34.4+k3s1"

    microk8s = rows["microk8s", "3.1", "off"]
    assert microk8s["Status"] == "✅ passed 3/3"
    assert microk8s["EdgeX version"] == "3.1.1"
    assert microk8s["Target"] == "Kubernetes v1.31.4 / microk8s 1.31/stable"
    assert microk8s["Ran on"] == "lab-box"

    assert rows["kubeedge", "4.0", "off"]["Status"] == "⏹ interrupted (ready), 3/3 passed before"


def test_table_details_list_every_check_phase_and_source_file(report_dir: Path) -> None:
    text = render(report_dir, **EXPECT)
    details = text.split("## Details\n", 1)[1]
    podman = details.split("### ", 2)[1]
    assert podman.startswith('<a id="podman-4-0"></a>podman, EdgeX 4.0\n')
    assert "- Source: 20261126T153900Z-podman.json (run 20261126T153900Z-podman," in podman
    assert "20261120T100500Z-podman" not in text  # the replaced report appears nowhere
    assert "| provision | apply | ready | first_event | checks | teardown | total |" in podman
    assert "| 0.1 s | 1.6 s | 4.4 s | — | — | — | 0.0 s |" in podman
    assert (
        "| b | core-data-ping | ❌ failed (product) | 0.4 s "
        "| GET /api/v3/ping: status 503 \\| body &lt;html&gt;down&lt;/html&gt; "
        "| suites/test_api.py::test_core_data_answers_ping |"
    ) in podman
    assert (
        "| a | pod-healthy | ✅ passed | 0.4 s |  | suites/test_pod.py::test_every_container_runs_without_restarts |"
        in podman
    )
    k3s = details.split('<a id="k3s-4-0"></a>', 1)[1].split("### ", 1)[0]
    assert "- Error (infra, during ready): pod edgex not Ready after 300 s; last state ImagePullBackOff" in k3s
    assert "No check was recorded." in k3s
    assert '<a id="k8s-4-0">' not in text  # no report, no details


def test_every_table_in_the_output_is_well_formed(report_dir: Path) -> None:
    lines = render(report_dir, **EXPECT).splitlines()
    width = 0
    for previous, line in zip(["", *lines], lines, strict=False):
        if not line.startswith("|"):
            width = 0
            continue
        cells = split_row(line)
        if width == 0:
            assert previous == "", f"a table must follow a blank line: {line}"
            width = len(cells)
        assert len(cells) == width, f"row has {len(cells)} cells, header {width}: {line}"


def test_table_ignores_input_order_and_is_reproducible(report_dir: Path) -> None:
    paths = table.find_report_files([report_dir])
    forward = table.render(table.load_sources(paths), command="c")
    backward = table.render(table.load_sources(reversed(paths)), command="c")
    assert forward == backward


def test_table_without_expectations_shows_only_the_grid_of_what_was_reported(report_dir: Path) -> None:
    rows = matrix(render(report_dir))
    assert sorted({d for d, _, _ in rows}) == ["k3s", "kubeedge", "microk8s", "podman"]
    assert sorted({r for _, r, _ in rows}) == ["3.1", "4.0"]
    assert {s for _, _, s in rows} == {"off"}


def test_a_secure_run_has_a_row_of_its_own_beside_the_non_secure_one(report_dir: Path) -> None:
    write_run(report_dir, distro="podman", release="4.0", finished="2026-11-27T09:00", security="on")
    text = render(report_dir, **EXPECT, expect_security=["off", "on"])
    rows = matrix(text)
    assert rows["podman", "4.0", "off"]["Status"] == "❌ failed 1/3: b, c"  # the newer secure run replaced nothing
    secure = rows["podman", "4.0", "on"]
    assert secure["Distro"] == "[podman](#podman-4-0-secure)"
    assert secure["Status"] == "✅ passed 3/3"
    assert rows["k8s", "4.0", "on"]["Status"] == "not yet run"
    assert list(rows)[:2] == [("podman", "4.0", "off"), ("podman", "4.0", "on")]
    assert '<a id="podman-4-0-secure"></a>podman, EdgeX 4.0, secure\n' in text


def test_cli_table_refuses_an_unknown_security_mode(report_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["table", str(report_dir), "--expect-security", "off,strict"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown security mode 'strict'; give off, on or off,on" in err


def test_table_flags_a_reported_version_that_is_not_the_release_under_test(tmp_path: Path) -> None:
    write_run(tmp_path, distro="k8s", release="4.0", finished="2026-11-26T10:00", versions={"core-data": "3.1.1"})
    assert matrix(render(tmp_path))["k8s", "4.0", "off"]["EdgeX version"] == "3.1.1 ⚠️ not 4.0"


def test_a_run_on_the_test_double_never_reads_as_an_edgex_result(tmp_path: Path) -> None:
    versions = {"core-data": "0.0.0-edgex-smoke-double"}
    write_run(tmp_path, distro="podman", release="4.0", finished="2026-11-26T10:00", versions=versions)
    assert matrix(render(tmp_path))["podman", "4.0", "off"]["Status"] == "🧪 test double, not EdgeX: passed 3/3"


def test_cli_table_refuses_a_run_on_the_test_double(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    versions = {"core-data": "0.0.0-edgex-smoke-double"}
    path = write_run(tmp_path, distro="podman", release="4.0", finished="2026-11-26T10:00", versions=versions)
    out = tmp_path / "compatibility.md"
    assert main(["table", str(tmp_path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}: a run on the harness's EdgeX test double is never evidence" in err
    assert not out.exists()


def test_md_escapes_what_would_break_a_table_or_inject_html() -> None:
    assert table.md("a|b <script> *x* `y` c\\d\nnext") == "a\\|b &lt;script&gt; \\*x\\* \\`y\\` c\\\\d next"


def test_anchor_is_a_plain_id() -> None:
    assert table.anchor(("MicroK8s", "4.0", "off")) == "microk8s-4-0"
    assert table.anchor(("podman", "4.0", "on")) == "podman-4-0-secure"


# --- command line -------------------------------------------------------------------------------


def test_cli_table_writes_the_output_file(report_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "docs" / "compatibility.md"
    argv = ["table", str(report_dir), "-o", str(out), "--expect-distros", "podman,k8s", "--expect-releases", "4.0"]
    assert main(argv) == 0
    text = out.read_text()
    assert f"python -m reports table {report_dir} -o {out} --expect-distros podman,k8s --expect-releases 4.0" in text
    assert matrix(text)["k8s", "4.0", "off"]["Status"] == "not yet run"
    assert capsys.readouterr().out == f"wrote {out} from 5 report file(s)\n"
    assert [p.name for p in out.parent.iterdir()] == ["compatibility.md"]


def test_cli_show_prints_a_short_summary(report_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = report_dir / "20261125T083000Z-k3s.json"
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("k3s, EdgeX 4.0: ⚠️ infra-error (ready): pod edgex not Ready after 300 s")
    assert "  error (infra, during ready): pod edgex not Ready" in out
    assert "  phases: provision 0.1 s, apply —, ready —" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["table", "{empty}"], "no report files (*.json) found in {empty}; run the smoke test first"),
        (["table", "{empty}/missing.json"], "{empty}/missing.json: no such file or directory"),
        (["table", "{bad}"], "{bad}/broken.json: not valid JSON"),
        (["show", "{bad}/broken.json"], "{bad}/broken.json: not valid JSON"),
        (["show"], "the following arguments are required: REPORT.json"),
        (["tabel"], "invalid choice: 'tabel'"),
        (["table", "--expect-distros"], "argument --expect-distros: expected one argument"),
        (["table", "--expect-distro", "k3s"], "unrecognized arguments: --expect-distro (see --help)"),
    ],
)
def test_cli_usage_problems_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    empty, bad = tmp_path / "empty", tmp_path / "bad"
    empty.mkdir()
    bad.mkdir()
    (bad / "broken.json").write_text('{"schema_version": 1, "run_')
    dirs = {"empty": empty, "bad": bad}
    assert main([arg.format(**dirs) for arg in argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert message.format(**dirs) in err
    assert "Traceback" not in err


def test_python_m_reports_runs_as_a_program(report_dir: Path, tmp_path: Path) -> None:
    done = proc.run([sys.executable, "-m", "reports", "table", str(report_dir)], timeout_s=60, cwd=REPO)
    assert done.stdout.startswith("# EdgeX compatibility\n")
    assert "| [podman](#podman-4-0) | 4.0 | off | ❌ failed 1/3: b, c |" in done.stdout

    (tmp_path / "junk.json").write_text("[]")
    failed = proc.run(
        [sys.executable, "-m", "reports", "table", str(tmp_path / "junk.json")], timeout_s=60, cwd=REPO, check=False
    )
    assert failed.returncode == 2
    assert failed.stderr == f"python -m reports: {tmp_path / 'junk.json'}: the top level is list, not an object\n"
