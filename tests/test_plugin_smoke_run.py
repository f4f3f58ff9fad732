"""The plugin end to end on real podman, where no EdgeX is needed: the run stops at preflight."""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

import pytest

from harness import proc
from harness.vocabulary import ExitCode
from tests import _smoke

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.needs_podman


def test_missing_images_stop_at_preflight_with_one_line_and_a_report(tmp_path: Path) -> None:
    mirror = "localhost:5999/nowhere"
    done = _smoke.run(tmp_path, "--distro=podman", f"--images={mirror}", "-q", free_ports=False)
    output = done.stdout + done.stderr
    assert done.returncode == ExitCode.INFRA_ERROR, output
    assert "Traceback" not in output
    preflight = [line for line in output.splitlines() if "stopped at preflight, nothing was created: " in line]
    assert len(preflight) == 1, output
    assert "podman: 9 image(s) missing and not pullable: " in preflight[0]
    assert f"{mirror}/edgexfoundry/core-data:4.0.1" in preflight[0]
    assert "choose --images lab" in preflight[0]

    reports = list(tmp_path.glob("*.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert report["outcome"] == "infra-error"
    assert report["error"]["phase"] == "provision"
    assert report["interrupted_phase"] is None, "a preflight stop is not an interruption"
    assert report["target"]["fingerprint"]["podman_version"]
    assert report["phases"]["provision"] is None
    assert (tmp_path / report["artifacts"]["junit"]).is_file()
    assert (tmp_path / "compatibility.md").read_text().count("infra-error") >= 1


def test_sigterm_during_provision_still_writes_the_report(tmp_path: Path) -> None:
    # Pulling nine images from a port nobody serves keeps the run in provision long enough to signal it.
    log = tmp_path / "pytest.log"
    child = proc.start(
        [
            sys.executable,
            "-m",
            "pytest",
            "suites",
            "--distro=podman",
            "--images=localhost:5999/nowhere",
            f"--report-dir={tmp_path}",
            "-p",
            "no:cacheprovider",
            "-q",
        ],
        log_path=log,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    while "pulling " not in log.read_text():
        assert child.poll() is None, log.read_text()
        assert time.monotonic() < deadline, f"the run never started pulling: {log.read_text()}"
        time.sleep(0.1)  # polling the child's output for its first pull
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=120) == pytest.ExitCode.INTERRUPTED, log.read_text()
    report = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert report["outcome"] == "interrupted"
    assert report["interrupted_phase"] == "provision"
    assert "Traceback" not in log.read_text()
