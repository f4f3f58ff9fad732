"""Test doubles at boundaries that cannot run here: the EdgeX REST API behind the gateway.

Used only in tests/; never for `make smoke` or a report.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from edgex_client import GATEWAY_SERVICES

REAL_PING_TIMESTAMP = "Thu Nov 26 15:22:41 UTC 2026"  # as EdgeX 4.0.2 answered (observed on a real EdgeX 4.0.2)
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

    Used only in tests/. It answers ``/<service>/api/v3/...`` with the JSON shapes of the
    EdgeX 4.0 API and the values observed on a real 4.0.2: ping with a
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
    unavailable_services: set[str] = field(default_factory=set)
    """Services that answer 503 themselves, with an EdgeX error body (as core-command when a device service fails)."""
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
            return self._injected_failure(service) or self._route(service, request.method, rest, request)

    def _injected_failure(self, service: str) -> _Reply | None:
        """The failure a test asked for on `service`'s route, if any."""
        if service in self.down_services:
            return _Reply(502, NGINX_502.encode(), "text/html")
        if service in self.misrouted_services:
            return _Reply(200, NGINX_WELCOME.encode(), "text/html")
        if self.error_body is not None:
            return _Reply(500, self.error_body.encode(), "text/plain")
        if service in self.unavailable_services:
            return _edgex_error(503, "failed to send a http request -> Put: EOF")
        return None

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
