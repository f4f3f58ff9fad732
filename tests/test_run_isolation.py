"""Runs on one host never touch each other: real EdgeX (the lab images), several smoke runs at once.

- Two runs with different gateway ports pass side by side, on podman and on the lab Kubernetes,
  each with its own pod (and namespace), and neither reaps the other.
- ``--reuse`` attaches only to an EdgeX kept by a run that has ended: never to a live run's, even
  one started with ``--keep``, and it names the choice when several are kept.
- A run asking for ports another run holds stops at preflight, naming that run.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lab
from distros import local_cluster
from harness import proc
from harness.vocabulary import ExitCode
from tests import _servers, _smoke

pytestmark = [pytest.mark.needs_podman, pytest.mark.needs_edgex]

LAB = "--images=lab"
START_TIMEOUT_S = 300.0
"""A run's pod exists within this bound of its start (provision and apply of real EdgeX, on a loaded host)."""


@pytest.fixture(scope="module")
def lab_images() -> None:
    lab.ensure_images()


def _ports() -> tuple[int, int]:
    return _servers.free_port(), _servers.free_port()


def _gateway_ports(ports: tuple[int, int]) -> str:
    return f"--gateway-ports={ports[0]}:{ports[1]}"


def _wait(child: subprocess.Popen[bytes], report_dir: Path) -> tuple[int, dict[str, Any]]:
    status = child.wait(timeout=_smoke.RUN_TIMEOUT_S)
    log = (report_dir / "pytest.log").read_text()
    return status, _smoke.only_report(report_dir, log)


def _assert_passed_alone(status: int, report: dict[str, Any], report_dir: Path) -> None:
    log = (report_dir / "pytest.log").read_text()
    assert status == ExitCode.PASSED, log
    assert report["outcome"] == "passed", log
    assert report["reaped"] == [], "a run reaped another live run's objects"


def _wait_for_line(child: subprocess.Popen[bytes], report_dir: Path, marker: str) -> str:
    """The first line of a background run's log holding `marker`, as soon as it is written."""
    log = report_dir / "pytest.log"
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        text = log.read_text() if log.is_file() else ""
        found = [line for line in text.splitlines() if marker in line]
        if found:
            return found[0]
        assert child.poll() is None, f"the run ended without {marker!r}:\n{text}"
        assert time.monotonic() < deadline, f"no {marker!r} within {START_TIMEOUT_S:.0f} s:\n{text}"
        time.sleep(0.2)  # polling the run's log: it has no other way to tell


def _pod_exists(name: str) -> bool:
    return proc.run(["podman", "pod", "exists", name], timeout_s=30, check=False).returncode == 0


@pytest.fixture
def kept_pods() -> Iterator[list[str]]:
    """Names of the pods a test keeps on purpose: removed at the end, whatever happened."""
    names: list[str] = []
    yield names
    for name in names:
        _smoke.remove_kept(name)


def _concurrent_runs_pass(tmp_path: Path, *target: str) -> None:
    dirs = [tmp_path / "first", tmp_path / "second"]
    children = [_smoke.start(d, *target, LAB, _gateway_ports(_ports()), "-q") for d in dirs]
    results = [_wait(child, d) for child, d in zip(children, dirs, strict=True)]
    for (status, report), directory in zip(results, dirs, strict=True):
        _assert_passed_alone(status, report, directory)
    run_ids = {report["run_id"] for _status, report in results}
    assert len(run_ids) == 2


def test_two_runs_at_once_on_podman_both_pass(lab_images: None, tmp_path: Path) -> None:
    _concurrent_runs_pass(tmp_path, "--distro=podman")


def test_two_runs_at_once_on_the_lab_kubernetes_both_pass(lab_images: None, tmp_path: Path) -> None:
    if not local_cluster.descriptor_path().is_file():
        pytest.skip("the lab cluster is not running ('make lab-cluster'; make test starts it as root)")
    _concurrent_runs_pass(tmp_path, "--distro=k8s", "--provision=local")


def test_reuse_takes_the_kept_ended_run_never_a_live_one(
    lab_images: None, tmp_path: Path, kept_pods: list[str]
) -> None:
    suffix = tmp_path.name.lower().replace("_", "-")[-12:].strip("-")
    ended, live = f"edgex-ended-{suffix}", f"edgex-live-{suffix}"
    ended_ports, live_ports = _ports(), _ports()
    kept_pods.extend([ended, live])

    # A: a kept run that has ended.
    done = _smoke.run(
        tmp_path / "ended", "--distro=podman", LAB, "--keep", f"--name={ended}", _gateway_ports(ended_ports)
    )
    assert done.returncode == ExitCode.PASSED, done.stdout + done.stderr
    assert _pod_exists(ended)

    # B: a run started with --keep that is still running while the others ask.
    live_dir = tmp_path / "live"
    child = _smoke.start(live_dir, "--distro=podman", LAB, "--keep", f"--name={live}", _gateway_ports(live_ports))
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _pod_exists(live):
            assert child.poll() is None, (live_dir / "pytest.log").read_text()
            assert time.monotonic() < deadline, f"run B made no pod {live} within {START_TIMEOUT_S:.0f} s"
            time.sleep(0.5)  # polling podman for the pod the background run creates

        refused = _smoke.run(tmp_path / "named-live", "--distro=podman", LAB, "--reuse", f"--name={live}")
        output = refused.stdout + refused.stderr
        assert refused.returncode == ExitCode.INFRA_ERROR, output
        assert f"--reuse will not attach to {live}" in output and "has not ended" in output, output

        busy = _smoke.run(tmp_path / "busy-live", "--distro=podman", LAB, _gateway_ports((live_ports[0], _ports()[1])))
        output = busy.stdout + busy.stderr
        assert busy.returncode == ExitCode.INFRA_ERROR, output
        assert f"held by another edgex-smoke run, {live}" in output and "still running as pid" in output, output

        busy = _smoke.run(tmp_path / "busy-kept", "--distro=podman", LAB, _gateway_ports((ended_ports[0], _ports()[1])))
        output = busy.stdout + busy.stderr
        assert busy.returncode == ExitCode.INFRA_ERROR, output
        assert f"held by the EdgeX of an earlier run, {ended}" in output, output
        assert f"--reuse --name {ended}" in output and f"podman pod rm -f {ended}" in output, output

        # Without --name, the only kept run that has ended is chosen, while B is still running.
        reuse_dir = tmp_path / "reuse"
        reuse = _smoke.start(reuse_dir, "--distro=podman", LAB, "--reuse", "-q")
        attached = _wait_for_line(reuse, reuse_dir, "attached to ")
        assert child.poll() is None, "run B ended before the --reuse run chose: the test proves nothing"
        assert f"attached to {ended}, kept by run" in attached, attached
        status, report = _wait(reuse, reuse_dir)
        assert status == ExitCode.PASSED, (reuse_dir / "pytest.log").read_text()
        assert report["outcome"] == "passed"
        assert _pod_exists(ended), "--reuse removed the EdgeX it attached to"
    finally:
        if child.poll() is None:
            child.wait(timeout=_smoke.RUN_TIMEOUT_S)
    status, report = _wait(child, live_dir)
    _assert_passed_alone(status, report, live_dir)

    # Now both have ended and both are kept: --reuse asks which.
    ambiguous = _smoke.run(tmp_path / "ambiguous", "--distro=podman", LAB, "--reuse")
    output = ambiguous.stdout + ambiguous.stderr
    assert ambiguous.returncode == ExitCode.INFRA_ERROR, output
    assert "--reuse found 2 kept EdgeX" in output and "choose one with --name" in output, output
    assert ended in output and live in output, output
