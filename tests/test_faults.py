"""The fault suite: real EdgeX (the lab images) broken one thing at a time, run through the harness as a user would.

For each fault of `tests._faults.FAULTS`, one real smoke run on podman must:
- fail (or pass, for the two changes EdgeX must take: a slow start and base64 bus payloads);
- when EdgeX cannot come up: lead with a root cause naming the right component, block every
  check, and reach that verdict within the fault's bound, measured from the end of ``apply``;
- when EdgeX comes up: fail exactly the checks the fault breaks (at least), with reasons that
  name the component.

Together the faults fail every check a to i at least once, so no check is vacuous (docs/testing.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import lab
from distros import local_cluster
from harness import proc
from tests import _faults, _smoke

CHECK_IDS = frozenset("abcdefghi")

pytestmark = [pytest.mark.needs_podman, pytest.mark.needs_edgex]


@pytest.fixture(scope="module")
def lab_images() -> None:
    lab.ensure_images()


ON_KUBERNETES = (
    "core-data-binary-missing",
    "core-metadata-wrong-port",
    "gateway-route-to-closed-port",
    "core-data-listens-on-pod-address",
)
"""A crash, a port and a route fault again on the lab Kubernetes: its restarts back off, its logs come from the API."""


@pytest.mark.parametrize("name", sorted(_faults.SECURE_FAULTS))
def test_a_protection_of_secure_edgex_removed_fails_the_check_that_guards_it(
    lab_images: None, name: str, tmp_path: Path
) -> None:
    _check(name, *_run(name, tmp_path, "--distro=podman", "--security=on"), faults=_faults.SECURE_FAULTS)


def _run(fault: str, report_dir: Path, *target: str) -> tuple[proc.Completed, dict[str, Any]]:
    options = (*(target or ("--distro=podman",)), "--images=lab", "-p", "tests._faults", "-q")
    return _smoke.run_with_report(report_dir, *options, env={_faults.ENV: fault})


def _verdict_s(report: dict[str, Any]) -> float:
    """Seconds from the end of apply to the verdict: the run's total less what came before and after."""
    phases = report["phases"]
    return float(phases["total"]) - sum(float(phases[p] or 0) for p in ("provision", "apply", "teardown"))


def test_the_faults_fail_every_check_at_least_once() -> None:
    failed = frozenset().union(*(fault.fails for fault in _faults.FAULTS.values()))
    assert failed == CHECK_IDS
    assert len([f for f in _faults.FAULTS.values() if f.blame is not None]) >= 12


def test_each_promise_of_secure_mode_has_a_fault_that_breaks_it() -> None:
    failed = frozenset().union(*(fault.fails for fault in _faults.SECURE_FAULTS.values()))
    assert failed == frozenset("cjkl")
    root_causes = {fault.blame for fault in _faults.SECURE_FAULTS.values() if not fault.fails}
    assert root_causes == {"secret-store", "security-proxy-auth"}  # a sealed store, a proxy-auth that is down


@pytest.mark.parametrize("name", sorted(_faults.FAULTS))
def test_a_fault_of_real_edgex_is_caught_and_blamed(lab_images: None, name: str, tmp_path: Path) -> None:
    _check(name, *_run(name, tmp_path))


@pytest.mark.parametrize("name", ON_KUBERNETES)
def test_a_fault_of_real_edgex_on_the_lab_kubernetes_is_caught_and_blamed(
    lab_images: None, name: str, tmp_path: Path
) -> None:
    if not local_cluster.descriptor_path().is_file():
        pytest.skip("the lab cluster is not running ('make lab-cluster'; make test starts it as root)")
    _check(name, *_run(name, tmp_path, "--distro=k8s", "--provision=local"))


def _check(
    name: str, done: proc.Completed, report: dict[str, Any], *, faults: dict[str, _faults.Fault] = _faults.FAULTS
) -> None:
    fault = faults[name]
    output = done.stdout + done.stderr
    checks = report["checks"]
    print(f"{name}: {report['outcome']}, root cause {report.get('root_cause')}, verdict {_verdict_s(report):.1f} s")
    assert "Traceback" not in output
    if fault.blame is None:
        assert report["outcome"] == "passed", output
        return
    assert report["outcome"] == "failed", output
    if not fault.fails:
        cause = report["root_cause"]
        assert cause is not None, output
        assert cause["component"] == fault.blame, cause
        assert {check["outcome"] for check in checks} == {"blocked"}
        assert set(cause["blocked"]) == {check["id"] for check in checks} >= CHECK_IDS
        assert fault.bound_s is not None
        assert _verdict_s(report) <= fault.bound_s
        assert f"root cause: {fault.blame}: " in output
        return
    failing = {check["id"] for check in checks if check["outcome"] == "failed"}
    assert fault.fails <= failing, output
    reasons = [check["reason"] for check in checks if check["outcome"] == "failed" and check["id"] in fault.fails]
    assert any(fault.blame in reason for reason in reasons), reasons
