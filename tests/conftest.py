"""Fixtures for the harness's own tests (never a cluster)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import _servers

pytest_plugins = ["pytester", "tests._skip_guard"]


@pytest.fixture
def mosquitto_port(tmp_path: Path) -> Iterator[int]:
    """A real mosquitto broker on 127.0.0.1, one per test."""
    with _servers.mosquitto(tmp_path) as port:
        yield port


def pytest_configure(config: pytest.Config) -> None:
    """Use the project's containers.conf on cgroup v1 hybrid hosts, as `make` does, unless one is set."""
    if "CONTAINERS_CONF" not in os.environ and Path("/sys/fs/cgroup/unified").is_dir():
        os.environ["CONTAINERS_CONF"] = str(Path(__file__).resolve().parent.parent / ".ci" / "containers.conf")
