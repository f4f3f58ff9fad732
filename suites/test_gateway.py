"""b. Every service answers ping through the gateway; c. only the gateway is reachable from the host."""

from __future__ import annotations

import socket

import pytest

from edgex_client import GatewayClient
from edgex_smoke.lifecycle import LiveEdgeX
from suites._expect import require

PROBE_TIMEOUT_S = 2.0


@pytest.mark.check("b", "ping")
def test_service_answers_ping_through_gateway(gateway: GatewayClient, service: str) -> None:
    ping = gateway.ping(service)
    require(
        ping.service_name == service,
        f"gateway: /{service}/api/v3/ping answered as {ping.service_name!r}; the route points at the wrong service",
    )


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def _host_port_owners(edgex: LiveEdgeX) -> dict[int, str]:
    """Host port → the container that declares it, from the deployed pod (empty under --reuse)."""
    return {
        int(port["hostPort"]): container["name"]
        for obj in edgex.deployment.objects
        if obj.get("kind") == "Pod"
        for container in obj["spec"]["containers"]
        for port in container.get("ports", [])
        if "hostPort" in port
    }


@pytest.mark.check("c", "isolation")
def test_only_gateway_ports_are_published(edgex: LiveEdgeX) -> None:
    gateway_ports = {edgex.endpoints.gateway_port, edgex.endpoints.mqtt_port}
    published = set(edgex.endpoints.published_ports)
    extra = sorted(published - gateway_ports)
    owners = _host_port_owners(edgex)
    shown = ", ".join(f"{port} ({owners.get(port, 'owner unknown')})" for port in extra)
    require(not extra, f"pod {edgex.deployment.pod}: host ports published besides the gateway's: {shown}")


@pytest.mark.check("c", "isolation")
def test_database_broker_and_services_are_unreachable_from_the_host(edgex: LiveEdgeX) -> None:
    info = edgex.release
    internal = {"database": info.database.port, "mqtt-broker": info.broker.port, **info.ports}
    pod_ip = edgex.endpoints.pod_ip
    if pod_ip is None:
        pytest.skip(f"{edgex.distro.name}: the pod's address is not routable from the host")
    reachable = [f"{name} ({pod_ip}:{port})" for name, port in internal.items() if _accepts(pod_ip, port)]
    require(
        not reachable,
        f"pod {edgex.deployment.pod}: reachable from the host without the gateway: {', '.join(reachable)}",
    )
