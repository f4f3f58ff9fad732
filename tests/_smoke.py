"""One smoke run as a user starts it (``python -m pytest suites …`` in the checkout), for the harness's own tests."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import manifests
from harness import proc
from tests import _servers

ROOT = Path(__file__).resolve().parent.parent
RUN_TIMEOUT_S = 900.0


def run(
    report_dir: Path, *options: str, env: Mapping[str, str] | None = None, free_ports: bool = True
) -> proc.Completed:
    """Run the smoke suites with `options`, writing into `report_dir`; never raises on a failed run.

    With `free_ports`, the gateway gets two free host ports rather than 8000 and 1884, which a
    developer's machine may be using.
    """
    argv = _argv(report_dir, options, free_ports=free_ports)
    return proc.run(argv, timeout_s=RUN_TIMEOUT_S, cwd=ROOT, check=False, env=env)


def start(report_dir: Path, *options: str) -> subprocess.Popen[bytes]:
    """`run` in the background, its output in ``<report_dir>/pytest.log``; the caller waits for it."""
    return proc.start(_argv(report_dir, options, free_ports=True), log_path=report_dir / "pytest.log", cwd=ROOT)


def _argv(report_dir: Path, options: tuple[str, ...], *, free_ports: bool) -> list[str]:
    ports = [] if not free_ports or any(o.startswith("--gateway-ports") for o in options) else [_free_ports()]
    argv = [sys.executable, "-m", "pytest", "suites", *options, *ports, f"--report-dir={report_dir}"]
    return [*argv, "-p", "no:cacheprovider"]


def _free_ports() -> str:
    return f"--gateway-ports={_servers.free_port()}:{_servers.free_port()}"


def only_report(report_dir: Path, output: str = "") -> dict[str, Any]:
    """The one report a run wrote into `report_dir` (the test fails with `output` when there is not exactly one)."""
    reports = sorted(report_dir.glob("*.json"))
    assert len(reports) == 1, output
    return dict(json.loads(reports[0].read_text()))


def run_with_report(
    report_dir: Path, *options: str, env: Mapping[str, str] | None = None
) -> tuple[proc.Completed, dict[str, Any]]:
    """`run`, then the one report it wrote (the test fails with the run's output when there is not exactly one)."""
    done = run(report_dir, *options, env=env)
    return done, only_report(report_dir, done.stdout + done.stderr)


def remove_kept(name: str) -> None:
    """Remove the podman pod a run kept on purpose (``--keep --name=<name>``), and its ConfigMap volumes."""
    proc.run(["podman", "pod", "rm", "--force", name], timeout_s=120, check=False)
    for volume in manifests.configmap_names(name):
        proc.run(["podman", "volume", "rm", "--force", volume], timeout_s=60, check=False)
