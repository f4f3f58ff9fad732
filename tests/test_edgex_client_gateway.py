"""GatewayClient against a named test double of the EdgeX REST API behind the gateway."""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

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

REAL_PING_TIMESTAMP = "Thu Nov 26 15:22:41 UTC 2026"  # as EdgeX 4.0.2 answered (edgex-facts §12)
NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n"
    "<hr><center>nginx/1.29.3</center>\r\n</body>\r\n</html>\r\n"
)
NGINX_WELCOME = "<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head><body></body></html>"


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"


@dataclass
class EdgeXGatewayDouble:
    """Test double of the EdgeX 4.0 REST API shapes as seen through the NGINX gateway.

    Used only in tests/. It answers ``/<service>/api/v3/...`` with the JSON shapes of
    edgex-facts.md §5 and the values observed on a real 4.0.2 (§12): ping with a
    UnixDate timestamp, ``{"count": N}``, core-command events, EdgeX error bodies,
    NGINX's HTML 502 page for a dead upstream, 401 without the expected JWT.
    State lives in memory: device-rest POSTs and core-command PUTs become readings
    that later GETs return.
    """

    required_token: str | None = None
    ssl_context: ssl.SSLContext | None = None
    devices: dict[str, str] = field(
        default_factory=lambda: {
            "Random-Integer-Device": "device-virtual",
            "Random-Float-Device": "device-virtual",
            "sample-numeric": "device-rest",
            "MQTT-test-device": "device-mqtt",
        }
    )
    events: list[dict[str, Any]] = field(default_factory=list)
    values: dict[tuple[str, str], str] = field(default_factory=dict)
    down_services: set[str] = field(default_factory=set)
    misrouted_services: set[str] = field(default_factory=set)
    failing_pings_left: int = 0
    grow_every_nth_count: int = 0
    error_body: str | None = None
    requests: list[RecordedRequest] = field(default_factory=list)
    _count_requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        scheme = "https" if self.ssl_context else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> EdgeXGatewayDouble:
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve("GET")

            def do_PUT(self) -> None:
                self._serve("PUT")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                recorded = RecordedRequest(method, parts.path, parse_qs(parts.query), dict(self.headers), body)
                reply = double.answer(recorded)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.ssl_context is not None:
            self._server.socket = self.ssl_context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add_event(self, device: str, resource: str, value: str, value_type: str = "Int64") -> None:
        service = self.devices.get(device, "device-virtual")
        self.events.insert(
            0,
            {
                "apiVersion": "v3",
                "id": f"e{len(self.events)}",
                "deviceName": device,
                "profileName": device,
                "sourceName": resource,
                "origin": time.time_ns(),
                # EDGEX_OPTIMIZE_EVENT_PAYLOAD drops per-reading deviceName; so does the double
                "readings": [{"resourceName": resource, "valueType": value_type, "value": value, "origin": 1}],
                "tags": {"service": service},
            },
        )

    # -- routing -------------------------------------------------------------------------------

    def answer(self, request: RecordedRequest) -> _Reply:
        with self._lock:
            self.requests.append(request)
            expected_authorization = f"Bearer {self.required_token}"
            if self.required_token is not None and request.headers.get("Authorization") != expected_authorization:
                return _Reply(401, b"Not Authorized\n", "text/plain")
            segments = [unquote(s) for s in request.path.split("/")[1:]]
            if len(segments) < 3 or segments[1:3] != ["api", "v3"] or segments[0] not in GATEWAY_SERVICES:
                return _Reply(404, b"<html>404 Not Found</html>", "text/html")
            service, rest = segments[0], segments[3:]
            if service in self.down_services:
                return _Reply(502, NGINX_502.encode(), "text/html")
            if service in self.misrouted_services:
                return _Reply(200, NGINX_WELCOME.encode(), "text/html")
            if self.error_body is not None:
                return _Reply(500, self.error_body.encode(), "text/plain")
            return self._route(service, request.method, rest, request)

    def _route(self, service: str, method: str, rest: list[str], request: RecordedRequest) -> _Reply:  # noqa: PLR0911
        if rest == ["ping"]:
            if self.failing_pings_left > 0:
                self.failing_pings_left -= 1
                return _Reply(502, NGINX_502.encode(), "text/html")
            return _json(200, {"apiVersion": "v3", "timestamp": REAL_PING_TIMESTAMP, "serviceName": service})
        if rest == ["version"]:
            return _json(200, {"apiVersion": "v3", "version": "4.0.2", "serviceName": service})
        if service == "core-data" and method == "GET":
            return self._core_data(rest, request)
        if service == "core-metadata" and method == "GET":
            return self._core_metadata(rest)
        if service == "core-command" and rest[:2] == ["device", "name"] and len(rest) == 4:
            return self._core_command(method, rest[2], rest[3], request)
        if service == "device-rest" and method == "POST" and rest[:1] == ["resource"] and len(rest) == 3:
            device, resource = rest[1], rest[2]
            if device not in self.devices:
                return _edgex_error(404, f"device {device} not found")
            self.add_event(device, resource, request.body.decode())
            return _Reply(200, b"", "text/plain")
        return _edgex_error(404, f"no route {method} /{'/'.join(rest)}")

    def _core_data(self, rest: list[str], request: RecordedRequest) -> _Reply:
        if rest[:2] == ["event", "count"]:
            self._count_requests += 1
            if self.grow_every_nth_count and self._count_requests % self.grow_every_nth_count == 0:
                self.add_event("Random-Integer-Device", "Int8", "7")
            events = self.events
            if rest[2:4] == ["device", "name"]:
                events = [e for e in events if e["deviceName"] == rest[4]]
            return _json(200, {"apiVersion": "v3", "statusCode": 200, "count": len(events)})
        if rest[:3] == ["event", "device", "name"]:
            limit = int(request.query.get("limit", ["20"])[0])
            matching = [e for e in self.events if e["deviceName"] == rest[3]]
            selected = matching if limit < 0 else matching[:limit]
            page: list[dict[str, Any]] | None = selected or None  # Go encodes an empty slice as null here
            return _json(200, {"apiVersion": "v3", "statusCode": 200, "totalCount": len(matching), "events": page})
        return _edgex_error(404, "unknown core-data route")

    def _core_metadata(self, rest: list[str]) -> _Reply:
        if rest == ["device", "all"]:
            names = list(self.devices)
        elif rest[:3] == ["device", "service", "name"]:
            names = [n for n, s in self.devices.items() if s == rest[3]]
        else:
            return _edgex_error(404, "unknown core-metadata route")
        devices = [{"name": n, "serviceName": self.devices[n], "profileName": n} for n in names]
        return _json(200, {"apiVersion": "v3", "statusCode": 200, "totalCount": len(devices), "devices": devices})

    def _core_command(self, method: str, device: str, command: str, request: RecordedRequest) -> _Reply:
        if device not in self.devices:
            return _edgex_error(404, f"device {device} does not exist")
        if method == "PUT":
            for resource, value in json.loads(request.body).items():
                self.values[(device, resource)] = value
            return _json(200, {"apiVersion": "v3", "statusCode": 200})
        value = self.values.get((device, command), "0")
        event = {
            "apiVersion": "v3",
            "id": "c1",
            "deviceName": device,
            "profileName": device,
            "sourceName": command,
            "origin": time.time_ns(),
            "readings": [{"resourceName": command, "valueType": "Int8", "value": value}],
        }
        return _json(200, {"apiVersion": "v3", "statusCode": 200, "event": event})


def _json(status: int, body: object) -> _Reply:
    return _Reply(status, json.dumps(body).encode())


def _edgex_error(status: int, message: str) -> _Reply:
    return _json(status, {"apiVersion": "v3", "message": message, "statusCode": status})


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
