"""In CI, a skipped test outside the reviewed allow-list (``tests/allowed-skips.yaml``) fails the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

ALLOW_LIST = Path(__file__).with_name("allowed-skips.yaml")


def allowed() -> dict[str, str]:
    """Node id (or its prefix up to ``[``) → why skipping it in CI is acceptable."""
    data = yaml.safe_load(ALLOW_LIST.read_text()) or {}
    return {str(entry["test"]): str(entry["reason"]) for entry in data.get("allowed") or []}


def is_allowed(nodeid: str, allow: dict[str, str]) -> bool:
    """True if `nodeid`, or the test it parametrizes, is on the allow-list."""
    return nodeid in allow or nodeid.split("[", 1)[0] in allow


class SkipGuard:
    """Collects skips; at the end of a CI run, fails it for every skip not on the allow-list."""

    def __init__(self) -> None:
        self.skipped: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.skipped and not hasattr(report, "wasxfail"):
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            self.skipped[report.nodeid] = str(reason).removeprefix("Skipped: ")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        allow = allowed()
        unexpected = {nodeid: why for nodeid, why in self.skipped.items() if not is_allowed(nodeid, allow)}
        if not unexpected:
            return
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for nodeid, why in unexpected.items():
            line = (
                f"skip-guard: {nodeid} skipped in CI ({why}); make it run, or add it to {ALLOW_LIST.name} with a reason"
            )
            if reporter is not None:
                reporter.write_line(line, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    """Install the guard when running in CI (``CI`` set to a true value)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        config.pluginmanager.register(SkipGuard(), "edgex-smoke-skip-guard")
