"""Fixtures shared by the smoke suites; the EdgeX itself comes from the `edgex` fixture of the plugin.

The checks run one after another, and those that wait on EdgeX's own clock (the autoevents) run
last: by then the run's bus observer has been listening since the ready phase ended, so the
other checks' time is spent while the first autoevent is on its way, not before it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import manifests
from edgex_client import GatewayClient
from edgex_smoke.lifecycle import LiveEdgeX
from harness.errors import SmokeError
from suites._expect import fail

INTEGER_DEVICE = "Random-Integer-Device"
SECURE_CHECKS = "test_security.py"
"""The module of checks j, k and l."""


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``service`` with the services the release's gateway routes."""
    if "service" in metafunc.fixturenames:
        release = metafunc.config.getoption("edgex")
        metafunc.parametrize("service", [s.name for s in manifests.release_info(release).services])


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Secure mode's own checks exist only with --security on: a non-secure EdgeX makes no such promise.

    Not collected rather than deselected or skipped, so a non-secure run neither counts them nor
    reads "not run".
    """
    if collection_path.name == SECURE_CHECKS and config.getoption("security", default="off") != "on":
        return True
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Checks marked ``last`` run after all others."""
    items.sort(key=lambda item: item.get_closest_marker("last") is not None)


@pytest.fixture
def gateway(edgex: LiveEdgeX) -> GatewayClient:
    """The REST client that reaches every service through the gateway."""
    return edgex.gateway


@dataclass(frozen=True)
class CountAtStart:
    """core-data's count of Random-Integer-Device events when the first check ran, and when that was."""

    at: float
    """``time.monotonic()`` of the read."""
    at_ns: int
    """``time.time_ns()`` just before the read: events produced from then on are news to check e."""
    count: int | None
    problem: str

    def value(self) -> int:
        """The count; fails the calling check with the gateway's own reason if it could not be read."""
        if self.count is None:
            fail(self.problem)
        return self.count


@pytest.fixture(scope="session", autouse=True)
def integer_count_at_start(request: pytest.FixtureRequest) -> CountAtStart | None:
    """Read the count before the first check, so check e needs no autoevent of its own after it starts.

    A failed read is kept for check e to report; it must not fail the checks that do not need it.
    """
    if "edgex" not in request.fixturenames:
        return None
    edgex: LiveEdgeX = request.getfixturevalue("edgex")
    at_ns, at = time.time_ns(), time.monotonic()
    try:
        return CountAtStart(at, at_ns, edgex.gateway.event_count(INTEGER_DEVICE), "")
    except SmokeError as err:
        return CountAtStart(at, at_ns, None, str(err))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Turn the client's `SmokeError`s into one-line check failures that name the component."""
    try:
        return (yield)
    except SmokeError as err:
        fail(str(err))
