"""b. Every service answers ping through the gateway; c. only the gateway is reachable from the host."""

from __future__ import annotations

import pytest

from edgex_client import GatewayClient
from edgex_smoke.lifecycle import LiveEdgeX
from harness import reach
from harness.reach import Reach
from suites._expect import require


@pytest.mark.check("b", "ping")
def test_service_answers_ping_through_gateway(gateway: GatewayClient, service: str) -> None:
    ping = gateway.ping(service)
    require(
        ping.service_name == service,
        f"gateway: /{service}/api/v3/ping answered as {ping.service_name!r}; the route points at the wrong service",
    )


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
    """On every address a client could use, the gateway's port accepts (the control) and no other pod port does."""
    internal = edgex.internal_ports
    addresses = edgex.endpoints.client_addresses
    require(addresses, f"{edgex.distro.name}: the driver names no address to probe; isolation is unproven")
    exposed: list[str] = []
    unproven: list[str] = []
    controlled = 0
    for client in addresses:
        where = f"{client.role} {client.address}"
        control = reach.probe(client.address, client.gateway_port)
        if control is Reach.ACCEPTED:
            controlled += 1
        elif client.vouched:
            unproven.append(f"{where} (the gateway's own port {client.gateway_port} is {control.value})")
        if control is Reach.SILENT:
            continue  # no route to this address: every other port there would wait out its timeout too
        exposed += [
            f"{name} on {where}:{port}"
            for name, port in internal.items()
            if reach.probe(client.address, port) is Reach.ACCEPTED
        ]
    require(
        not exposed,
        f"pod {edgex.deployment.pod}: reachable from the host without the gateway: {', '.join(exposed)}",
    )
    require(
        not unproven and controlled,
        f"{edgex.distro.name}: isolation unproven: the probe cannot reach {', '.join(unproven) or 'any address'}; "
        "a closed port there would prove nothing",
    )
