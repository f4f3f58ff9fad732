"""GatewayClient against a named test double of the EdgeX REST API behind the gateway."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edgex_client import GATEWAY_SERVICES, GatewayClient, same_number
from harness.errors import (
    EventTimeoutError,
    GatewayAuthError,
    GatewayError,
    PreflightError,
    ReadinessTimeoutError,
)
from tests import _servers
from tests._doubles import REAL_PING_TIMESTAMP, EdgeXGatewayDouble


@pytest.fixture
def gateway() -> Iterator[EdgeXGatewayDouble]:
    with EdgeXGatewayDouble() as double:
        yield double


@pytest.fixture
def client(gateway: EdgeXGatewayDouble) -> Iterator[GatewayClient]:
    with GatewayClient(gateway.base_url, timeout_s=5) as gateway_client:
        yield gateway_client


def _one_line(message: str) -> bool:
    return "\n" not in message and "\r" not in message


# -- answers ---------------------------------------------------------------------------------------


def test_gateway_ping_reaches_each_service_through_its_route(
    client: GatewayClient, gateway: EdgeXGatewayDouble
) -> None:
    for service in GATEWAY_SERVICES:
        ping = client.ping(service)
        assert ping.service_name == service
        assert ping.api_version == "v3"
        assert ping.timestamp == REAL_PING_TIMESTAMP
        assert ping.time == datetime(2026, 11, 26, 15, 22, 41, tzinfo=UTC)
    assert [r.path for r in gateway.requests] == [f"/{s}/api/v3/ping" for s in GATEWAY_SERVICES]


def test_gateway_version_returns_the_version_field(client: GatewayClient) -> None:
    assert client.version("core-metadata") == "4.0.2"


def test_gateway_event_count_counts_total_and_per_device(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    assert client.event_count() == 0
    gateway.add_event("Random-Integer-Device", "Int8", "1")
    gateway.add_event("Random-Integer-Device", "Int16", "2")
    gateway.add_event("Random-Float-Device", "Float32", "5.67e+00", "Float32")

    assert client.event_count() == 3
    assert client.event_count("Random-Integer-Device") == 2
    assert gateway.requests[-1].path == "/core-data/api/v3/event/count/device/name/Random-Integer-Device"


def test_gateway_quotes_names_in_paths(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    assert client.event_count("odd name/with slash") == 0
    assert gateway.requests[-1].path == "/core-data/api/v3/event/count/device/name/odd%20name%2Fwith%20slash"


def test_gateway_events_for_device_passes_limit_and_handles_null(
    client: GatewayClient, gateway: EdgeXGatewayDouble
) -> None:
    assert client.events_for_device("Random-Float-Device") == []  # events: null
    for n in range(3):
        gateway.add_event("Random-Float-Device", "Float32", f"{n}.5e+00", "Float32")

    events = client.events_for_device("Random-Float-Device", limit=2)

    assert gateway.requests[-1].query == {"limit": ["2"]}
    assert [e["readings"][0]["value"] for e in events] == ["2.5e+00", "1.5e+00"]
    assert same_number(events[0]["readings"][0]["value"], 2.5)


def test_gateway_device_names_lists_all_or_one_service(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    assert client.device_names() == sorted(gateway.devices)
    assert gateway.requests[-1].path == "/core-metadata/api/v3/device/all"
    assert gateway.requests[-1].query == {"limit": ["-1"]}

    assert client.device_names("device-virtual") == ["Random-Float-Device", "Random-Integer-Device"]
    assert gateway.requests[-1].path == "/core-metadata/api/v3/device/service/name/device-virtual"


def test_gateway_command_put_then_get_round_trips_the_value(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    client.command_put("Random-Integer-Device", "WriteInt8Value", {"Int8": "42"})
    put = gateway.requests[-1]
    assert (put.method, put.path) == ("PUT", "/core-command/api/v3/device/name/Random-Integer-Device/WriteInt8Value")
    assert json.loads(put.body) == {"Int8": "42"}

    assert client.command_value("Random-Integer-Device", "Int8") == "42"
    get = gateway.requests[-1]
    assert get.query == {"ds-pushevent": ["false"], "ds-returnevent": ["true"]}
    event = client.command_get("Random-Integer-Device", "Int8")
    assert event["deviceName"] == "Random-Integer-Device"


def test_gateway_rest_post_sends_raw_text_that_core_data_then_holds(
    client: GatewayClient, gateway: EdgeXGatewayDouble
) -> None:
    client.rest_post("sample-numeric", "int", "1001")

    post = gateway.requests[-1]
    assert (post.method, post.path) == ("POST", "/device-rest/api/v3/resource/sample-numeric/int")
    assert post.body == b"1001"
    assert post.headers["Content-Type"] == "text/plain"
    assert client.event_count("sample-numeric") == 1
    assert client.events_for_device("sample-numeric")[0]["readings"][0]["value"] == "1001"


# -- failures --------------------------------------------------------------------------------------


def test_gateway_without_token_raises_auth_error_with_the_fix() -> None:
    with (
        EdgeXGatewayDouble(required_token="jwt-abc") as double,
        GatewayClient(double.base_url) as anonymous,
        pytest.raises(GatewayAuthError) as caught,
    ):
        anonymous.ping("core-data")
    message = str(caught.value)
    assert isinstance(caught.value, GatewayError)
    assert _one_line(message)
    assert message.startswith("gateway: GET /core-data/api/v3/ping answered 401")
    assert "Not Authorized" in message
    assert "token=" in message and "JWT" in message


def test_gateway_sends_the_token_as_bearer_and_never_shows_it() -> None:
    token = "eyJhbGciOiJFUzI1NiJ9.secret-payload.sig"
    with EdgeXGatewayDouble(required_token=token) as double:
        with GatewayClient(double.base_url, token=token) as good:
            assert good.ping("core-command").service_name == "core-command"
        assert double.requests[-1].headers["Authorization"] == f"Bearer {token}"

        with (
            GatewayClient(double.base_url, token="expired-" + token) as stale,
            pytest.raises(GatewayAuthError) as caught,
        ):
            stale.version("core-data")
    message = str(caught.value)
    assert token not in message and "secret-payload" not in message
    assert "expired" in message


def test_gateway_connection_refused_names_the_url_and_fix() -> None:
    port = _servers.free_port()
    with GatewayClient(f"http://127.0.0.1:{port}", timeout_s=2) as dead, pytest.raises(GatewayError) as caught:
        dead.ping("core-data")
    assert str(caught.value) == (
        f"gateway: GET /core-data/api/v3/ping failed: connection refused at http://127.0.0.1:{port}; "
        f"is the pod running and port {port} published?"
    )
    assert caught.value.kind == "product"


def test_gateway_dead_upstream_502_names_the_service(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    gateway.down_services.add("device-mqtt")
    with pytest.raises(GatewayError) as caught:
        client.ping("device-mqtt")
    message = str(caught.value)
    assert _one_line(message)
    assert message.startswith("device-mqtt: GET /device-mqtt/api/v3/ping answered 502 Bad Gateway")
    assert "could not reach device-mqtt" in message


def test_a_5xx_a_service_gave_itself_is_not_blamed_on_the_gateway(
    client: GatewayClient, gateway: EdgeXGatewayDouble
) -> None:
    gateway.unavailable_services.add("core-command")
    with pytest.raises(GatewayError) as caught:
        client.ping("core-command")
    message = str(caught.value)
    assert _one_line(message)
    assert "answered 503 Service Unavailable: failed to send a http request -> Put: EOF" in message
    assert "core-command itself gave this answer, not the gateway; check its log" in message
    assert "could not reach" not in message


def test_gateway_non_json_answer_is_a_gateway_error(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    gateway.misrouted_services.add("core-metadata")
    with pytest.raises(GatewayError) as caught:
        client.device_names()
    message = str(caught.value)
    assert _one_line(message)
    assert "answered 200 with a non-JSON body (text/html)" in message
    assert "Welcome to nginx!" in message


def test_gateway_edgex_error_message_is_quoted(client: GatewayClient) -> None:
    with pytest.raises(GatewayError) as caught:
        client.command_get("Nope", "Int8")
    message = str(caught.value)
    assert "answered 404 Not Found: device Nope does not exist" in message
    assert not isinstance(caught.value, GatewayAuthError)


def test_gateway_error_body_excerpt_is_bounded(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    gateway.error_body = "panic: " + "x" * 10_000 + "\n" + "goroutine 1 [running]:\n" * 50
    with pytest.raises(GatewayError) as caught:
        client.event_count()
    message = str(caught.value)
    assert _one_line(message)
    assert "answered 500" in message and "panic: xxx" in message
    assert len(message) < 500


def test_gateway_refuses_to_disable_tls_verification(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="verify=False"):
        GatewayClient("https://127.0.0.1:8443", verify=False)
    with pytest.raises(PreflightError, match="does not exist"):
        GatewayClient("https://127.0.0.1:8443", verify=str(tmp_path / "missing-ca.pem"))


# -- waits -----------------------------------------------------------------------------------------


def test_wait_for_pings_retries_until_every_service_answers(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    gateway.failing_pings_left = 4

    pings = client.wait_for_pings(timeout_s=10, interval_s=0.01)

    assert sorted(pings) == sorted(GATEWAY_SERVICES)
    assert all(pings[s].service_name == s for s in GATEWAY_SERVICES)
    assert len(gateway.requests) == 4 + len(GATEWAY_SERVICES)


def test_wait_for_pings_times_out_naming_the_silent_service(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    gateway.down_services.add("device-rest")
    started = time.monotonic()
    with pytest.raises(ReadinessTimeoutError) as caught:
        client.wait_for_pings(timeout_s=0.3, interval_s=0.05)
    elapsed_s = time.monotonic() - started
    message = str(caught.value)
    assert _one_line(message)
    assert message.startswith("gateway: ping of core-data, core-metadata")
    assert "not reached within 0.3 s" in message
    assert "device-rest: GET /device-rest/api/v3/ping answered 502 Bad Gateway" in message
    assert 0.3 <= elapsed_s < 5


def test_wait_for_pings_does_not_retry_a_refused_token() -> None:
    with EdgeXGatewayDouble(required_token="jwt") as double, GatewayClient(double.base_url) as anonymous:
        started = time.monotonic()
        with pytest.raises(GatewayAuthError):
            anonymous.wait_for_pings(timeout_s=30, interval_s=0.05)
        assert time.monotonic() - started < 5
        assert len(double.requests) == 1


def test_wait_for_event_count_returns_once_the_count_grows(client: GatewayClient, gateway: EdgeXGatewayDouble) -> None:
    gateway.grow_every_nth_count = 3  # every third count request, an autoevent "arrives"

    count = client.wait_for_event_count(above=0, device="Random-Integer-Device", timeout_s=10, interval_s=0.01)

    assert count == 1
    assert gateway._count_requests == 3


def test_wait_for_event_count_timeout_says_what_it_waited_for(client: GatewayClient) -> None:
    with pytest.raises(EventTimeoutError) as caught:
        client.wait_for_event_count(above=0, timeout_s=0.2, interval_s=0.05)
    message = str(caught.value)
    assert _one_line(message)
    assert message.startswith("core-data: event count total still 0 after 0.2 s, expected above 0;")
    assert "message bus" in message
