"""j, k, l. What secure mode promises beyond a to i: no call without a valid JWT, no anonymous broker client.

Collected only with ``--security on`` (suites/conftest.py: a non-secure EdgeX makes no such
promise, so these checks do not exist there rather than being skipped). Direct access to OpenBao, PostgreSQL, the
broker's plain port and the services is check c, which probes every listener of the secure pod.
"""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from edgex_client import GatewayClient, MqttWatcher
from edgex_smoke.lifecycle import LiveEdgeX, gateway_client, secure_url
from harness.errors import BrokerError, GatewayAuthError
from suites._expect import fail, require

REFUSED = " answered 401"


def _unauthenticated(edgex: LiveEdgeX, token: str | None) -> GatewayClient:
    """A client of the same gateway, over the same verified TLS, with `token` instead of the run's JWT."""
    credentials = edgex.credentials
    assert credentials is not None  # collected only with --security on (suites/conftest.py)
    return GatewayClient(
        secure_url(edgex.endpoints), verify=str(credentials.ca_path), token=token, server_name=credentials.server_name
    )


def _refusals(client: GatewayClient, services: tuple[str, ...]) -> list[str]:
    """The services that did not answer 401 to `client`'s ping, each with what it answered."""
    wrong: list[str] = []
    for service in services:
        try:
            client.ping(service)
        except GatewayAuthError as err:
            if REFUSED not in str(err):
                wrong.append(f"{service} ({err})")
            continue
        wrong.append(f"{service} answered the ping")
    return wrong


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.check("j", "token-required")
def test_every_service_refuses_a_call_without_a_token(edgex: LiveEdgeX) -> None:
    wrong = _refusals(_unauthenticated(edgex, None), edgex.services)
    require(not wrong, f"gateway: calls without a JWT were not refused with 401: {'; '.join(wrong)}")


@pytest.mark.check("k", "forged-token-refused")
def test_every_service_refuses_a_forged_or_tampered_token(edgex: LiveEdgeX) -> None:
    credentials = edgex.credentials
    assert credentials is not None  # collected only with --security on (suites/conftest.py)
    header, payload, signature = credentials.jwt.split(".")
    tampered = f"{header}.{payload}.{signature[::-1]}"
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "edgex-smoke-forger"
    forged = f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(secrets.token_bytes(64))}"
    wrong = [
        f"{kind}: {problem}"
        for kind, token in (("tampered signature", tampered), ("forged claims", forged))
        for problem in _refusals(_unauthenticated(edgex, token), edgex.services)
    ]
    require(not wrong, f"gateway: forged JWTs were not refused with 401: {'; '.join(wrong)}")
    require(gateway_client(edgex.endpoints, credentials).ping("core-data"), "the run's own JWT stopped working")


@pytest.mark.check("l", "anonymous-mqtt-refused")
def test_the_broker_refuses_an_anonymous_client(edgex: LiveEdgeX) -> None:
    credentials = edgex.credentials
    assert credentials is not None  # collected only with --security on (suites/conftest.py)
    anonymous = MqttWatcher(
        edgex.endpoints.mqtt_host,
        edgex.endpoints.mqtt_port,
        client_id_prefix="edgex-smoke-anonymous",
        ca_path=str(credentials.ca_path),
        server_name=credentials.server_name,
    )
    try:
        anonymous.connect()
    except BrokerError as err:
        require("Not authorized" in str(err), f"mqtt broker: the anonymous client failed otherwise: {err}")
        return
    anonymous.close()
    fail(
        f"mqtt broker: an anonymous client connected through the gateway's MQTT route "
        f"{edgex.endpoints.mqtt_host}:{edgex.endpoints.mqtt_port}"
    )
