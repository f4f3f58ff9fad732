"""a. The pod is healthy: every container runs and none restarted; in-pod facts through testinfra."""

from __future__ import annotations

import pytest

from edgex_smoke.lifecycle import LiveEdgeX
from suites._expect import fail, require


@pytest.mark.check("a", "pod-healthy")
def test_every_container_runs_without_restarts(edgex: LiveEdgeX) -> None:
    states = edgex.distro.containers(edgex.target, edgex.deployment)
    seen = {state.name for state in states}
    missing = sorted(set(edgex.images) - seen)
    require(not missing, f"pod {edgex.deployment.pod}: containers missing: {', '.join(missing)}")
    unhealthy = [f"{s.name} is {s.state}" for s in states if not s.ready]
    restarted = [f"{s.name} restarted {s.restarts}x" for s in states if s.restarts]
    problems = unhealthy + restarted
    require(not problems, f"pod {edgex.deployment.pod}: {'; '.join(problems)}")


@pytest.mark.check("a", "pod-healthy")
@pytest.mark.parametrize(
    ("container", "process"), [("gateway", "nginx"), ("mqtt-broker", "mosquitto"), ("database", "postgres")]
)
def test_infrastructure_process_runs_inside_its_container(edgex: LiveEdgeX, container: str, process: str) -> None:
    host = edgex.distro.container_host(edgex.target, edgex.deployment, container)
    if not host.exists("ps"):
        pytest.skip(f"{container}: the image has no ps, so testinfra cannot list processes")
    found = host.process.filter(comm=process)
    require(found, f"{container}: no {process} process inside the container")


@pytest.mark.check("a", "pod-healthy")
def test_common_configuration_is_mounted_in_every_edgex_container(edgex: LiveEdgeX) -> None:
    missing = []
    for container in edgex.services:
        host = edgex.distro.container_host(edgex.target, edgex.deployment, container)
        if not host.exists("sh"):
            fail(f"{container}: the image has no shell, so testinfra cannot inspect it")
        if not host.file(edgex.common_config_path).is_file:
            missing.append(container)
    require(not missing, f"common configuration {edgex.common_config_path} missing in: {', '.join(missing)}")
