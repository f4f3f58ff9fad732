"""The project's own bad-input table: every bad input a user can give ends in one line with a fix.

Each case runs the real command line in a subprocess (``python -m pytest suites …`` or
``python -m reports …``) and asserts the exit status, one line naming the subject and the
fix, no traceback, no partial file, and nothing left running on this host.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from distros import local_cluster
from harness import labels as run_labels
from harness import proc
from harness.vocabulary import ExitCode
from tests import _servers

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 120.0
REPORTS_USAGE_ERROR = 2
TOKEN = "bad-input-secret-token"  # a fake credential: it must never be printed
OWN_SUBJECT = "edgex-smoke: infra-error, exit status 6: "


Prepare = Callable[[Path], AbstractContextManager[list[str]]]
"""Makes what a case needs under a directory and yields extra arguments; cleans up after the run."""


@dataclass(frozen=True)
class Bad:
    """One bad input: the command's arguments, the exit status and the fragments its one line holds."""

    name: str
    args: tuple[str, ...]
    status: int
    says: tuple[str, ...]
    prepare: Prepare | None = None
    command: str = "smoke"
    """``smoke`` (``pytest suites``) or ``reports`` (``python -m reports``)."""
    needs: str | None = field(default=None)
    """``root`` or ``lab-cluster`` when the case needs them."""


@contextmanager
def _nothing(_tmp: Path) -> Iterator[list[str]]:
    yield []


@contextmanager
def _file_as_report_dir(tmp: Path) -> Iterator[list[str]]:
    blocker = tmp / "a-file"
    blocker.write_text("not a directory\n")
    yield [f"--report-dir={blocker}"]


@contextmanager
def _kubeconfig(tmp: Path, text: str, *extra: str) -> Iterator[list[str]]:
    path = tmp / "kubeconfig"
    path.write_text(text)
    yield [f"--kubeconfig={path}", *extra]


def _unreachable_kubeconfig() -> str:
    port = _servers.free_port()
    return yaml.safe_dump(
        {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{port}"}}],
            "users": [{"name": "u", "user": {"token": TOKEN}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "x",
        }
    )


@contextmanager
def _garbage_kubeconfig(tmp: Path) -> Iterator[list[str]]:
    with _kubeconfig(tmp, "clusters: [oops\n") as args:
        yield args


@contextmanager
def _unreachable(tmp: Path) -> Iterator[list[str]]:
    with _kubeconfig(tmp, _unreachable_kubeconfig()) as args:
        yield args


@contextmanager
def _unknown_context(tmp: Path) -> Iterator[list[str]]:
    with _kubeconfig(tmp, _unreachable_kubeconfig(), "--context=nope") as args:
        yield args


@contextmanager
def _wrong_ca(tmp: Path) -> Iterator[list[str]]:
    """The lab cluster's kubeconfig with the CA swapped for a fresh one that signed nothing."""
    descriptor = json.loads(local_cluster.descriptor_path().read_text())
    config = yaml.safe_load(Path(descriptor["kubeconfig"]).read_text())
    key, cert = tmp / "other-ca.key", tmp / "other-ca.crt"
    proc.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=not-the-cluster-ca", "-keyout", str(key), "-out", str(cert)),
        ],
        timeout_s=60,
    )
    for cluster in config["clusters"]:
        cluster["cluster"].pop("certificate-authority", None)
        cluster["cluster"]["certificate-authority-data"] = base64.b64encode(cert.read_bytes()).decode()
    with _kubeconfig(tmp, yaml.safe_dump(config)) as args:
        yield args


@contextmanager
def _no_local_cluster(tmp: Path) -> Iterator[list[str]]:
    os.environ[local_cluster.ENV_STATE_DIR] = str(tmp / "no-cluster")
    try:
        yield []
    finally:
        del os.environ[local_cluster.ENV_STATE_DIR]


@contextmanager
def _foreign_port_holder(tmp: Path) -> Iterator[list[str]]:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))  # a busy port on every address, as a real program holds it
        holder.listen()
        yield [f"--gateway-ports={holder.getsockname()[1]}:{_servers.free_port()}"]


@contextmanager
def _full_disk(tmp: Path) -> Iterator[Path]:
    mount = tmp / "full"
    mount.mkdir()
    proc.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], timeout_s=30)
    with contextlib.suppress(OSError):  # the disk is full: that was the point
        (mount / "filler").write_bytes(b"\0" * 64 * 1024)
    try:
        yield mount
    finally:
        proc.run(["umount", str(mount)], timeout_s=30)


@contextmanager
def _report_dir_on_full_disk(tmp: Path) -> Iterator[list[str]]:
    with _full_disk(tmp) as mount:
        yield [f"--report-dir={mount}"]


@contextmanager
def _junit_on_full_disk(tmp: Path) -> Iterator[list[str]]:
    with _full_disk(tmp) as mount:
        yield [f"--junitxml={mount / 'junit.xml'}"]


@contextmanager
def _not_json(tmp: Path) -> Iterator[list[str]]:
    path = tmp / "inputs" / "report.json"
    path.parent.mkdir()
    path.write_text("{ not json\n")
    yield [str(path)]


@contextmanager
def _empty_dir(tmp: Path) -> Iterator[list[str]]:
    empty = tmp / "empty"
    empty.mkdir()
    yield [str(empty)]


OPTION = ExitCode.OPTION_ERROR
INFRA = ExitCode.INFRA_ERROR

CASES: tuple[Bad, ...] = (
    # -- options: one line, exit 4, nothing started ---------------------------------------------
    Bad("unknown distro", ("--distro=nope",), OPTION, ("--distro", "'nope'", "choose one of")),
    Bad("unknown release", ("--edgex=9.9",), OPTION, ("--edgex", "'9.9'", "choose one of")),
    Bad("unknown security mode", ("--security=maybe",), OPTION, ("--security", "'maybe'", "choose one of")),
    Bad("image source", ("--images=http://x/y",), OPTION, ("--images", "'http://x/y'", "use upstream | lab")),
    Bad("timeout not a number", ("--ready-timeout=abc",), OPTION, ("--ready-timeout", "'abc'", "give e.g. 300")),
    Bad("timeout nan", ("--ready-timeout=nan",), OPTION, ("--ready-timeout", "nan", "finite", "give e.g. 300")),
    Bad("timeout infinite", ("--ready-timeout=inf",), OPTION, ("--ready-timeout", "inf", "finite")),
    Bad("timeout negative", ("--ready-timeout=-5",), OPTION, ("--ready-timeout", "-5", "not positive")),
    Bad("timeout zero", ("--ready-timeout=0",), OPTION, ("--ready-timeout", "not positive", "give seconds")),
    Bad("timeout huge", ("--ready-timeout=100000",), OPTION, ("--ready-timeout", "100000", "more than 21600")),
    Bad("ports one", ("--gateway-ports=8000",), OPTION, ("--gateway-ports", "'8000'", "give two ports")),
    Bad("ports words", ("--gateway-ports=a:b",), OPTION, ("--gateway-ports", "'a:b'", "give two ports")),
    Bad("port zero", ("--gateway-ports=0:1884",), OPTION, ("--gateway-ports", "0 is not a TCP port", "1 to 65535")),
    Bad("port too big", ("--gateway-ports=70000:1884",), OPTION, ("--gateway-ports", "70000", "1 to 65535")),
    Bad("ports equal", ("--gateway-ports=8000:8000",), OPTION, ("--gateway-ports", "both use 8000", "two different")),
    Bad("unknown provision", ("--provision=cloud",), OPTION, ("--provision", "'cloud'", "choose one of")),
    Bad(
        "local podman",
        ("--provision=local", "--distro=podman"),
        OPTION,
        ("--provision local", "'podman'", "drop --provision"),
    ),
    Bad("missing kubeconfig", ("--kubeconfig=/nonexistent/kc",), OPTION, ("--kubeconfig", "/nonexistent/kc", "give")),
    Bad(
        "kubeconfig and local",
        ("--distro=k8s", "--provision=local", f"--kubeconfig={ROOT / 'pyproject.toml'}"),
        OPTION,
        ("--kubeconfig with --provision local", "drop one"),
    ),
    Bad(
        "report dir cannot be made",
        ("--report-dir=/proc/edgex-smoke/reports",),
        OPTION,
        ("--report-dir", "/proc/edgex-smoke/reports", "give a directory you can write to"),
    ),
    Bad(
        "report dir is a file", (), OPTION, ("--report-dir", "a-file", "give a directory"), prepare=_file_as_report_dir
    ),
    Bad("name upper case", ("--name=Bad_Name",), OPTION, ("--name", "'Bad_Name'", "lower-case letters")),
    Bad("name too long", ("--name=" + "e" * 41,), OPTION, ("--name", "1-40", "lower-case letters")),
    # -- infrastructure: the preflight line last, exit 6, nothing created --------------------------
    Bad("k3s not installed", ("--distro=k3s",), INFRA, ("k3s", "not on PATH", "pass --kubeconfig")),
    Bad("kubeconfig garbage", ("--distro=k8s",), INFRA, ("not valid YAML", "give a kubeconfig"), _garbage_kubeconfig),
    Bad("api server down", ("--distro=k8s",), INFRA, ("does not answer", "check that the cluster runs"), _unreachable),
    Bad("unknown context", ("--distro=k8s",), INFRA, ("context 'nope'", "choose one of: x"), _unknown_context),
    Bad(
        "no local cluster",
        ("--distro=k8s", "--provision=local"),
        INFRA,
        ("no local cluster is running", "python -m lab.cluster up"),
        _no_local_cluster,
    ),
    Bad(
        "wrong CA",
        ("--distro=k8s",),
        INFRA,
        ("answered", "not signed by the CA", "certificate-authority-data"),
        _wrong_ca,
        needs="lab-cluster",
    ),
    Bad(
        "images nowhere",
        ("--distro=podman", "--images=localhost:5999/nowhere"),
        INFRA,
        ("podman", "missing and not pullable", "choose --images lab"),
    ),
    Bad(
        "port held by another program",
        ("--distro=podman", "--images=lab"),
        INFRA,
        ("podman: host port", "by python", "not an edgex-smoke pod", "other --gateway-ports"),
        _foreign_port_holder,
    ),
    Bad(
        "reuse of nothing",
        ("--distro=podman", "--images=lab", "--reuse", "--name=edgex-never-deployed"),
        INFRA,
        ("--reuse found no running EdgeX named 'edgex-never-deployed'", "--keep", "drop --reuse"),
    ),
    Bad(
        "report dir on a full disk",
        ("--distro=k3s",),
        INFRA,
        ("report not written", "No space left on device", "report written to", "instead"),
        _report_dir_on_full_disk,
        needs="root",
    ),
    Bad(
        "JUnit on a full disk",
        ("--distro=k3s",),
        INFRA,
        ("JUnit file", "not written", "No space left on device"),
        _junit_on_full_disk,
        needs="root",
    ),
    # -- the reports command line: one line, exit 2 -------------------------------------------------
    Bad(
        "show a missing report",
        ("show", "/nonexistent.json"),
        REPORTS_USAGE_ERROR,
        ("/nonexistent.json", "no such report file", "reports/out"),
        command="reports",
    ),
    Bad(
        "table without reports",
        ("table",),
        REPORTS_USAGE_ERROR,
        ("reports/out", "the default when no reports are given", "make smoke"),
        command="reports",
    ),
    Bad(
        "table of a missing path",
        ("table", "/nonexistent-dir"),
        REPORTS_USAGE_ERROR,
        ("/nonexistent-dir", "no such file or directory", "docs/evidence"),
        command="reports",
    ),
    Bad("show a non-JSON file", ("show",), REPORTS_USAGE_ERROR, ("report.json", "JSON"), _not_json, "reports"),
    Bad(
        "gate on an empty directory",
        ("gate", "--distro=podman", "--status=0"),
        REPORTS_USAGE_ERROR,
        ("holds 0 reports", "give every run a fresh --report-dir"),
        _empty_dir,
        "reports",
    ),
    Bad("unknown subcommand", ("bogus",), REPORTS_USAGE_ERROR, ("invalid choice", "see --help"), command="reports"),
)


def _our_pods() -> set[str]:
    done = proc.run(
        ["podman", "pod", "ps", "--filter", f"label={run_labels.SELECTOR}", "--format", "{{.Name}}"],
        timeout_s=30,
        check=False,
    )
    return set(done.stdout.split())


def _run(case: Bad, tmp: Path, extra: list[str]) -> proc.Completed:
    env = {**os.environ, "TMPDIR": str(tmp)}
    if case.command == "reports":
        argv = [sys.executable, "-m", "reports", *case.args, *extra]
        return proc.run(argv, timeout_s=RUN_TIMEOUT_S, cwd=tmp, check=False, env=env)
    options = [*case.args, *extra]
    if not any(o.startswith("--report-dir") for o in options):
        options.append(f"--report-dir={tmp / 'reports'}")
    if not any(o.startswith("--gateway-ports") for o in options):
        options.append(f"--gateway-ports={_servers.free_port()}:{_servers.free_port()}")
    argv = [sys.executable, "-m", "pytest", "suites", *options, "-p", "no:cacheprovider", "-q"]
    return proc.run(argv, timeout_s=RUN_TIMEOUT_S, cwd=ROOT, check=False, env=env)


def _the_line(case: Bad, output: str) -> str:
    lines = [line for line in output.splitlines() if line.strip()]
    if case.command == "reports":
        assert len(lines) == 1, f"expected one line, got:\n{output}"
        return lines[0]
    if case.status == OPTION:
        errors = [line for line in lines if line.startswith("ERROR: ")]
        assert len(errors) == 1, f"expected one ERROR line, got:\n{output}"
        return errors[0]
    verdicts = [line for line in lines if line.startswith(OWN_SUBJECT)]
    assert len(verdicts) == 1, f"expected one verdict line, got:\n{output}"
    assert lines[-1].startswith("no tests ran"), f"the verdict must close the run:\n{output}"
    return verdicts[0]


def _assert_no_partial_file(tmp: Path) -> None:
    for path in tmp.rglob("*"):
        if not path.is_file():
            continue
        assert ".partial" not in path.name, f"a partial file was left: {path}"
        if path.suffix == ".json" and path.parent.name != "inputs":
            json.loads(path.read_text())  # whole, or not there at all
        if path.suffix == ".xml":
            ET.parse(path)  # our own JUnit file


def _requirement_missing(needs: str | None) -> str | None:
    if needs == "root" and os.geteuid() != 0:
        return "mounting a full tmpfs needs root"
    if needs == "lab-cluster" and not local_cluster.descriptor_path().is_file():
        return "the lab cluster is not running ('make lab-cluster'; make test starts it as root)"
    return None


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input_gets_one_line_with_the_fix(case: Bad, tmp_path: Path) -> None:
    missing = _requirement_missing(case.needs)
    if missing:
        pytest.skip(missing)
    pods_before = _our_pods()
    prepare = case.prepare or _nothing
    with prepare(tmp_path) as extra:
        done = _run(case, tmp_path, extra)
        output = done.stdout + done.stderr
        assert done.returncode == case.status, output
        assert "Traceback" not in output and "INTERNALERROR" not in output, output
        assert TOKEN not in output, "a credential was printed"
        line = _the_line(case, output)
        for fragment in case.says:
            assert fragment in line, f"{fragment!r} not in: {line}"
        _assert_no_partial_file(tmp_path)
    assert _our_pods() == pods_before, "the run left a pod behind"


def test_the_table_holds_every_case_the_hardening_promised() -> None:
    assert len(CASES) >= 30
    assert len({case.name for case in CASES}) == len(CASES)
