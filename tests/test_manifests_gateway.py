"""The generated gateway config in the real host nginx, against test doubles and a real mosquitto.

The nginx.conf is rendered from the release profile with every port swapped
for a free one (listen ports and upstream ports), so the test runs anywhere.
Debian's nginx loads the stream module through the config's
``include /etc/nginx/modules-enabled/*.conf`` line, as in the lab image.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import requests
from paho.mqtt.enums import CallbackAPIVersion

import manifests
from harness import proc
from tests import _servers

NGINX = "/usr/sbin/nginx"
NGINX_PACKAGES = "nginx-light libnginx-mod-stream"
# Debian's modules-enabled/*.conf load modules by a path relative to nginx's prefix.
DEBIAN_MODULES = Path("/usr/share/nginx/modules")
RELEASE = "4.0"
TIMEOUT_S = 10.0


class _ServiceDouble(BaseHTTPRequestHandler):
    """Stands in for one EdgeX service: answers every request with its name, method, path and body."""

    server: _ServiceDoubleServer

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        payload = json.dumps(
            {"double": self.server.service, "method": self.command, "path": self.path, "body": body}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


class _ServiceDoubleServer(ThreadingHTTPServer):
    def __init__(self, service: str) -> None:
        super().__init__(("127.0.0.1", 0), _ServiceDouble)
        self.service = service


@contextmanager
def _service_doubles(names: list[str]) -> Iterator[dict[str, int]]:
    """Run one HTTP double per EdgeX service on a free loopback port; yield name → port."""
    servers = [_ServiceDoubleServer(name) for name in names]
    threads = [
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, name=f"double-{s.service}")
        for s in servers
    ]
    for thread in threads:
        thread.start()
    try:
        yield {s.service: int(s.server_address[1]) for s in servers}
    finally:
        for server, thread in zip(servers, threads, strict=True):
            server.shutdown()
            server.server_close()
            thread.join(timeout=TIMEOUT_S)


def _distinct_free_ports(count: int) -> list[int]:
    """Return `count` different free ports (`free_port` may hand out the same one twice in a row)."""
    ports: list[int] = []
    while len(ports) < count:
        port = _servers.free_port()
        if port not in ports:
            ports.append(port)
    return ports


def _nginx_prefix(tmp_path: Path) -> Path:
    prefix = tmp_path / "nginx"
    prefix.mkdir(exist_ok=True)
    modules = prefix / "modules"
    if not modules.exists():
        modules.symlink_to(DEBIAN_MODULES)
    return prefix


def _nginx_argv(prefix: Path, conf: Path, *extra: str) -> list[str]:
    return [NGINX, "-p", f"{prefix}/", "-e", "stderr", "-c", str(conf), *extra]


@contextmanager
def _nginx(tmp_path: Path, conf_text: str, *, ports: list[int]) -> Iterator[subprocess.Popen[bytes]]:
    """Run the real host nginx on `conf_text` until every port in `ports` listens."""
    prefix = _nginx_prefix(tmp_path)
    conf = prefix / "nginx.conf"
    conf.write_text(conf_text)
    log = prefix / "nginx.log"
    process = proc.start(_nginx_argv(prefix, conf, "-g", "daemon off;"), log_path=log, package=NGINX_PACKAGES)
    try:
        for port in ports:
            _servers.wait_for_port(port, what="nginx", process=process, log=log)
        yield process
    finally:
        proc.stop(process)


@pytest.fixture
def gateway(tmp_path: Path, mosquitto_port: int) -> Iterator[dict[str, int]]:
    """The gateway config on free ports in front of service doubles and a real mosquitto.

    Yields the gateway's ``http`` and ``mqtt`` ports and the broker's ``broker`` port.
    """
    info = manifests.release_info(RELEASE)
    with _service_doubles(list(info.ports)) as double_ports:
        http_port, mqtt_port = _distinct_free_ports(2)
        conf = manifests.gateway_config(
            RELEASE,
            http_port=http_port,
            mqtt_port=mqtt_port,
            ports={**double_ports, info.broker.container: mosquitto_port},
            listen_host="127.0.0.1",
            runtime_dir=str(_nginx_prefix(tmp_path)),
        )
        with _nginx(tmp_path, conf, ports=[http_port, mqtt_port]):
            yield {"http": http_port, "mqtt": mqtt_port, "broker": mosquitto_port}


@contextmanager
def _mqtt_client(port: int, name: str) -> Iterator[tuple[mqtt.Client, queue.Queue[mqtt.MQTTMessage]]]:
    """A connected paho client on 127.0.0.1:`port` and the queue its messages land in."""
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    connected = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{uuid.uuid4().hex[:8]}")
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.set() if not reason.is_failure else None
    client.on_message = lambda _c, _u, message: received.put(message)
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        assert connected.wait(TIMEOUT_S), f"{name}: no CONNACK from 127.0.0.1:{port} within {TIMEOUT_S} s"
        yield client, received
    finally:
        client.disconnect()
        client.loop_stop()


def _subscribe(client: mqtt.Client, topic: str) -> None:
    subscribed = threading.Event()
    client.on_subscribe = lambda _c, _u, _mid, _codes, _p: subscribed.set()
    client.subscribe(topic, qos=1)
    assert subscribed.wait(TIMEOUT_S), f"no SUBACK for {topic} within {TIMEOUT_S} s"


def _relay(publisher_port: int, subscriber_port: int, topic: str, payload: bytes) -> bytes:
    with (
        _mqtt_client(subscriber_port, "sub") as (subscriber, received),
        _mqtt_client(publisher_port, "pub") as (publisher, _),
    ):
        _subscribe(subscriber, topic)
        publisher.publish(topic, payload, qos=1).wait_for_publish(timeout=TIMEOUT_S)
        message = received.get(timeout=TIMEOUT_S)
        assert message.topic == topic
        return bytes(message.payload)


# --- tests -------------------------------------------------------------------------------------------


def test_rendered_gateway_config_passes_nginx_syntax_check(tmp_path: Path) -> None:
    prefix = _nginx_prefix(tmp_path)
    conf = prefix / "nginx.conf"
    # The exact text of the ConfigMap, with only the runtime directory moved out of /tmp.
    shipped = manifests.gateway_config(RELEASE)
    conf.write_text(shipped.replace("/tmp/", f"{prefix}/"))
    result = proc.run(_nginx_argv(prefix, conf, "-t"), timeout_s=30, package=NGINX_PACKAGES)
    assert "syntax is ok" in result.stderr and "test is successful" in result.stderr


def test_every_route_reaches_its_service_with_the_prefix_stripped(gateway: dict[str, int]) -> None:
    info = manifests.release_info(RELEASE)
    for service in info.services:
        url = f"http://127.0.0.1:{gateway['http']}{service.route}api/{info.api_version}/ping"
        response = requests.get(url, timeout=TIMEOUT_S)
        assert response.status_code == 200, url
        assert response.json() == {"double": service.name, "method": "GET", "path": "/api/v3/ping", "body": ""}


def test_query_strings_and_bodies_pass_through(gateway: dict[str, int]) -> None:
    base = f"http://127.0.0.1:{gateway['http']}"
    answer = requests.get(f"{base}/core-data/api/v3/event/all?offset=0&limit=5", timeout=TIMEOUT_S).json()
    assert answer["path"] == "/api/v3/event/all?offset=0&limit=5"
    answer = requests.post(
        f"{base}/device-rest/api/v3/resource/sample-numeric/int",
        data="1001",
        headers={"Content-Type": "text/plain"},
        timeout=TIMEOUT_S,
    ).json()
    assert (answer["double"], answer["method"], answer["path"], answer["body"]) == (
        "device-rest",
        "POST",
        "/api/v3/resource/sample-numeric/int",
        "1001",
    )


def test_unknown_routes_are_not_found(gateway: dict[str, int]) -> None:
    base = f"http://127.0.0.1:{gateway['http']}"
    assert requests.get(f"{base}/core-keeper/api/v3/ping", timeout=TIMEOUT_S).status_code == 404
    assert requests.get(f"{base}/api/v3/ping", timeout=TIMEOUT_S).status_code == 404


def test_mqtt_published_through_gateway_reaches_broker(gateway: dict[str, int]) -> None:
    payload = _relay(gateway["mqtt"], gateway["broker"], "incoming/data/MQTT-test-device/randfloat32", b"5.67")
    assert payload == b"5.67"


def test_mqtt_published_on_broker_reaches_gateway_subscriber(gateway: dict[str, int]) -> None:
    topic = "edgex/events/device/device-virtual/Random-Boolean-Device/Random-Boolean-Device/Bool"
    payload = _relay(gateway["broker"], gateway["mqtt"], topic, b'{"apiVersion":"v3"}')
    assert payload == b'{"apiVersion":"v3"}'
