"""One smoke run as a user starts it (``python -m pytest suites …`` in the checkout), for the harness's own tests."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
    ports = [f"--gateway-ports={_servers.free_port()}:{_servers.free_port()}"] if free_ports else []
    argv = [sys.executable, "-m", "pytest", "suites", *options, *ports, f"--report-dir={report_dir}"]
    return proc.run([*argv, "-p", "no:cacheprovider"], timeout_s=RUN_TIMEOUT_S, cwd=ROOT, check=False, env=env)


def run_with_report(
    report_dir: Path, *options: str, env: Mapping[str, str] | None = None
) -> tuple[proc.Completed, dict[str, Any]]:
    """`run`, then the one report it wrote (the test fails with the run's output when there is not exactly one)."""
    done = run(report_dir, *options, env=env)
    reports = sorted(report_dir.glob("*.json"))
    assert len(reports) == 1, done.stdout + done.stderr
    return done, json.loads(reports[0].read_text())
