"""Fixtures shared by the smoke suites; the EdgeX itself comes from the `edgex` fixture of the plugin.

The checks run one after another, and those that wait on EdgeX's own clock (the autoevents) run
last: by then the run's bus observer has been listening since the ready phase ended, so the
other checks' time is spent while the first autoevent is on its way, not before it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

import manifests
from edgex_client import GatewayClient
from edgex_smoke.lifecycle import LiveEdgeX
from harness.errors import SmokeError
from suites._expect import fail

INTEGER_DEVICE = "Random-Integer-Device"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``service`` with the services the release's gateway routes."""
    if "service" in metafunc.fixturenames:
        release = metafunc.config.getoption("edgex")
        metafunc.parametrize("service", [s.name for s in manifests.release_info(release).services])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Checks marked ``last`` run after all others; ``secure_only`` ones exist only with --security on."""
    if config.getoption("security", default="off") != "on":
        dropped = [item for item in items if item.get_closest_marker("secure_only") is not None]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = [item for item in items if item not in dropped]
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
