"""Fixtures shared by the smoke suites; the EdgeX itself comes from the `edgex` fixture of the plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import manifests
from edgex_client import GatewayClient
from edgex_smoke.lifecycle import LiveEdgeX
from harness.errors import SmokeError
from suites._expect import fail


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``service`` with the services the release's gateway routes."""
    if "service" in metafunc.fixturenames:
        release = metafunc.config.getoption("edgex")
        metafunc.parametrize("service", [s.name for s in manifests.release_info(release).services])


@pytest.fixture
def gateway(edgex: LiveEdgeX) -> GatewayClient:
    """The REST client that reaches every service through the gateway."""
    return edgex.gateway


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Turn the client's `SmokeError`s into one-line check failures that name the component."""
    try:
        return (yield)
    except SmokeError as err:
        fail(str(err))
