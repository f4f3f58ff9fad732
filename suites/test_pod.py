"""a. The pod is healthy: every container runs and none restarted; in-pod facts through testinfra.

The in-container facts come from one exec per container, all containers at once: each exec costs
a process start on the target (podman exec, the API server's exec, ctr), which is the slow part.
"""

from __future__ import annotations

import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from edgex_smoke.lifecycle import LiveEdgeX
from suites._expect import fail, require

INFRA_PROCESSES = {"gateway": "nginx", "mqtt-broker": "mosquitto", "database": "postgres"}
SECURE_PROCESSES = {"secret-store": "bao"}
"""Secure mode's infrastructure (the EdgeX security services answer on their ports: checks c and j)."""
FILES_MARK = "--files--"
FACTS_SCRIPT = (
    'for comm in /proc/[0-9]*/comm; do cat "$comm" 2>/dev/null; done; echo {mark}; '
    'for path in {paths}; do if [ -f "$path" ]; then echo "$path"; fi; done'
)
"""Process names from /proc (no ps needed: busybox and Debian images alike) and which files exist."""


@dataclass(frozen=True)
class ContainerFacts:
    """What one exec saw inside one container."""

    processes: frozenset[str]
    files: frozenset[str]
    problem: str
    """Why the exec failed; empty when it ran."""


def _facts(edgex: LiveEdgeX, container: str, paths: tuple[str, ...]) -> ContainerFacts:
    host = edgex.distro.container_host(edgex.target, edgex.deployment, container)
    script = FACTS_SCRIPT.format(mark=FILES_MARK, paths=" ".join(map(shlex.quote, paths)))
    try:
        result = host.run(script)
    except Exception as err:  # testinfra raises its own errors; any of them means "could not look"
        return ContainerFacts(frozenset(), frozenset(), f"{container}: exec failed: {err}")
    if result.rc != 0 or FILES_MARK not in result.stdout:
        detail = (result.stderr or result.stdout).strip()[:200]
        return ContainerFacts(
            frozenset(),
            frozenset(),
            f"{container}: a shell command failed inside the container (rc {result.rc}: {detail})",
        )
    processes, _, files = result.stdout.partition(FILES_MARK)
    return ContainerFacts(frozenset(processes.split()), frozenset(files.split()), "")


@pytest.fixture(scope="session")
def pod_facts(edgex: LiveEdgeX) -> dict[str, ContainerFacts]:
    """Container name → what one exec saw in it, for every container at once."""
    infrastructure = [*INFRA_PROCESSES, *(SECURE_PROCESSES if edgex.credentials is not None else ())]
    wanted = {container: () for container in infrastructure} | {
        container: (edgex.common_config_path,) for container in edgex.services
    }
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        futures = {name: pool.submit(_facts, edgex, name, paths) for name, paths in wanted.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.check("a", "pod-healthy")
@pytest.mark.last
def test_every_container_runs_without_restarts(edgex: LiveEdgeX) -> None:
    states = edgex.distro.containers(edgex.target, edgex.deployment)
    seen = {state.name for state in states}
    missing = sorted(set(edgex.images) - seen)
    require(not missing, f"pod {edgex.deployment.pod}: containers missing: {', '.join(missing)}")
    unhealthy = [f"{s.name} is {s.state}" for s in states if not s.ready]
    restarted = [f"{s.name} restarted {s.restarts}x" for s in states if s.restarts]
    problems = unhealthy + restarted
    require(not problems, f"pod {edgex.deployment.pod}: {'; '.join(problems)}")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize the infrastructure check with the pod's infrastructure: secure mode's too, with --security on."""
    if {"container", "process"} <= set(metafunc.fixturenames):
        secure = metafunc.config.getoption("security", default="off") == "on"
        processes = INFRA_PROCESSES | (SECURE_PROCESSES if secure else {})
        metafunc.parametrize(("container", "process"), list(processes.items()))


@pytest.mark.check("a", "pod-healthy")
def test_infrastructure_process_runs_inside_its_container(
    pod_facts: dict[str, ContainerFacts], container: str, process: str
) -> None:
    facts = pod_facts[container]
    if facts.problem:
        fail(facts.problem)
    require(process in facts.processes, f"{container}: no {process} process inside the container")


@pytest.mark.check("a", "pod-healthy")
def test_common_configuration_is_mounted_in_every_edgex_container(
    edgex: LiveEdgeX, pod_facts: dict[str, ContainerFacts]
) -> None:
    problems = [pod_facts[container].problem for container in edgex.services if pod_facts[container].problem]
    if problems:
        fail("; ".join(problems))
    missing = [container for container in edgex.services if edgex.common_config_path not in pod_facts[container].files]
    require(not missing, f"common configuration {edgex.common_config_path} missing in: {', '.join(missing)}")
