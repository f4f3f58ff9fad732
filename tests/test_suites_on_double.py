"""The smoke suites end to end, on the EdgeX test double (tests/_edgex_double.py), on podman and the lab cluster.

What is real here: `pytest suites --distro=...` as a user runs it, the plugin, the renderer, the pod (kube
play, or server-side apply on the lab Kubernetes), PostgreSQL, mosquitto, the NGINX gateway with its HTTP
and MQTT routes, testinfra inside the containers, the report and the table. What is not: the six EdgeX
services, replaced by the double. So these runs prove the harness, never EdgeX; their reports stay in
`tmp_path`, never in docs/evidence.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, cast

import pytest

from harness import labels as run_labels
from harness import proc
from harness.vocabulary import ExitCode
from reports import describe
from reports.schema import RawReport
from tests import _edgex_double, _servers
from tests import _smoke as _smoke_run

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 900.0
CHECK_IDS = set("abcdefghi")
TIMED_PHASES = ("provision", "apply", "ready", "first_event", "checks", "teardown", "total")

pytestmark = pytest.mark.needs_podman


@pytest.fixture(scope="module")
def double_images() -> str:
    return _edgex_double.ensure_images()


def _smoke(report_dir: Path, *options: str) -> tuple[proc.Completed, dict[str, Any]]:
    return _smoke_run.run_with_report(report_dir, *options)


def _assert_passed_everything(done: proc.Completed, report: dict[str, Any], report_dir: Path) -> None:
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "Traceback" not in output
    assert report["outcome"] == "passed", report
    by_id: dict[str, set[str]] = {}
    for check in report["checks"]:
        by_id.setdefault(check["id"], set()).add(check["outcome"])
    assert set(by_id) == CHECK_IDS
    assert all(outcomes == {"passed"} for outcomes in by_id.values()), report["checks"]
    for phase in TIMED_PHASES:
        assert isinstance(report["phases"][phase], float), (phase, report["phases"])
    # The harness records what each service answered, not what the catalog says.
    assert set(report["edgex"]["versions"].values()) == {_edgex_double.DOUBLE_VERSION}
    assert all(image.startswith(_edgex_double.PREFIX) for image in _image_refs(report))
    assert describe.TEST_DOUBLE_MARK in _edgex_double.DOUBLE_VERSION
    assert "🧪 test double, not EdgeX: passed" in (report_dir / "compatibility.md").read_text()


def _image_refs(report: dict[str, Any]) -> list[str]:
    return [str(image["ref"]) for image in report["edgex"]["images"]]


def test_all_checks_pass_on_podman(double_images: str, tmp_path: Path) -> None:
    done, report = _smoke(tmp_path, "--distro=podman", f"--images={double_images}")
    _assert_passed_everything(done, report, tmp_path)
    assert report["target"]["distro"] == "podman"
    left = proc.run(
        ["podman", "pod", "ps", "--filter", f"label={run_labels.RUN_ID}={report['run_id']}", "--format", "{{.Name}}"],
        timeout_s=60,
    )
    assert left.stdout.strip() == "", "the run's pod outlived it"


def test_all_checks_pass_on_the_lab_cluster(double_images: str, tmp_path: Path) -> None:
    from lab.cluster import api  # noqa: PLC0415

    if api.status() is None:
        pytest.skip("the lab cluster is not running ('make lab-cluster'; make test starts it as root)")
    done, report = _smoke(tmp_path, "--distro=k8s", "--provision=local", f"--images={double_images}")
    _assert_passed_everything(done, report, tmp_path)
    facts = report["target"]["fingerprint"]
    assert facts["kubernetes_version"] == "v1.34.4"
    assert str(facts["cni"]).startswith("bridge")


def test_upstream_names_never_resolve_to_the_local_double(double_images: str, tmp_path: Path) -> None:
    # podman resolves a short name such as edgexfoundry/core-data:4.0.1 to any local image whose name ends
    # that way, the double's included: a run on upstream images must not find them.
    done, report = _smoke(tmp_path, "--distro=podman", "--images=upstream")
    assert done.returncode == ExitCode.INFRA_ERROR, done.stdout + done.stderr
    assert report["outcome"] == "infra-error"
    assert "docker.io/edgexfoundry/core-data:4.0.1" in report["error"]["message"]
    assert report["edgex"]["versions"] == {}


def test_auto_images_never_resolve_to_the_local_double(double_images: str, tmp_path: Path) -> None:
    # auto runs upstream images if they can be pulled, else the lab images if present, else stops at preflight:
    # whichever this machine allows, never the double's.
    done, report = _smoke(tmp_path, "--distro=podman", "--images=auto")
    output = done.stdout + done.stderr
    assert not describe.is_test_double(cast("RawReport", report)), output
    refs = [image["ref"] for image in report["edgex"]["images"]]
    assert not any(double_images in ref for ref in refs), refs
    if report["outcome"] == "infra-error":
        assert done.returncode == ExitCode.INFRA_ERROR, output
        assert "lab images are missing" in report["error"]["message"]
    else:
        assert report["edgex"]["image_source"] in ("upstream", "lab"), output


def test_a_failing_check_is_a_product_failure_with_diagnostics(tmp_path: Path) -> None:
    prefix = _edgex_double.ensure_images(_edgex_double.FAULTY_PREFIX)
    only = "test_device_mqtt_publish_reaches_core_data or test_every_container_runs_without_restarts"
    done, report = _smoke(tmp_path, "--distro=podman", f"--images={prefix}", "-k", only)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "Traceback" not in output
    assert report["outcome"] == "failed"
    assert report["error"] is None  # the target came up: not an infrastructure error
    outcomes = {check["id"]: check for check in report["checks"]}
    assert outcomes["a"]["outcome"] == "passed"
    failed = outcomes["i"]
    assert (failed["outcome"], failed["kind"]) == ("failed", "product"), failed
    # The faulty device-mqtt drops every value: the reason names that hop, not core-data at the end of the chain.
    assert failed["reason"].startswith("device-mqtt: "), failed["reason"]
    assert "but published no event for it on the message bus" in failed["reason"]
    assert "MQTT-test-device" in failed["reason"] and "\n" not in failed["reason"]
    diagnostics = tmp_path / report["artifacts"]["diagnostics"]
    logs = "".join(path.read_text(errors="replace") for path in diagnostics.rglob("*device-mqtt*"))
    assert "fault injected" in logs, sorted(p.name for p in diagnostics.rglob("*"))


def _faulty_check(tmp_path: Path, check_id: str, selected: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one check on the faulty double; it must fail as a product failure. Returns the check and the report."""
    prefix = _edgex_double.ensure_images(_edgex_double.FAULTY_PREFIX)
    done, report = _smoke(tmp_path, "--distro=podman", f"--images={prefix}", "-k", selected)
    assert done.returncode == 1, done.stdout + done.stderr
    check = next(check for check in report["checks"] if check["id"] == check_id)
    assert (check["outcome"], check["kind"]) == ("failed", "product"), check
    return check, report


def test_an_ignored_command_put_fails_check_g(tmp_path: Path) -> None:
    # The faulty device-virtual ignores WriteInt8Value and keeps returning random values.
    check, _ = _faulty_check(tmp_path, "g", "test_command_put_int8")
    assert check["reason"].startswith("core-command: GET Random-Integer-Device/Int8 returned "), check["reason"]
    assert " after PUT Int8=" in check["reason"]


def test_stale_events_fail_check_f(tmp_path: Path) -> None:
    # The faulty device-virtual publishes every autoevent with an origin an hour old, as if left over from a run before.
    check, report = _faulty_check(tmp_path, "f", "test_virtual_event_arrives")
    assert check["reason"].startswith("device-virtual: published no event through the gateway's MQTT route"), check
    assert "produced after the subscription" in check["reason"]
    assert report["phases"]["first_event"] is None  # an hour-old event is no first event either


def test_benchmark_summarises_the_phases_of_real_runs(double_images: str, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = proc.run(
        [
            *(sys.executable, "-m", "benchmarks", "smoke", f"--images={double_images}", "--runs=1", f"--out={out}"),
            f"--gateway-ports={_servers.free_port()}:{_servers.free_port()}",
        ],
        timeout_s=RUN_TIMEOUT_S,
        cwd=ROOT,
    )
    assert "smoke runs: --distro=podman" in done.stdout and "1/1 passed" in done.stdout
    rows = {line.split("|")[1].strip(): line for line in done.stdout.splitlines() if line.startswith("| ")}
    assert set(TIMED_PHASES) <= set(rows)
    raw = json.loads(out.read_text())
    assert [run["outcome"] for run in raw["runs"]] == ["passed"]
    assert raw["runs"][0]["phases"]["first_event"] > 0
