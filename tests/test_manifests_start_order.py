"""The pod's start order: wait-for.sh run by a real busybox against real listeners, and the rendered order."""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import subprocess
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import manifests
from manifests import _profile

SCRIPT = _profile.RELEASES_DIR / "4.0" / _profile.START_SCRIPT_FILE
BUSYBOX = shutil.which("busybox")
APPLETS = ("sh", "grep", "wget", "sleep", "date", "timeout", "printf", "echo", "true")


@pytest.fixture
def busybox_path(tmp_path: Path) -> str:
    """A PATH holding busybox applets only, as in the lab and upstream Alpine images."""
    assert BUSYBOX is not None, "busybox is missing: install Debian's busybox-static (.ci/host-packages)"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for applet in APPLETS:
        (bin_dir / applet).symlink_to(BUSYBOX)
    return str(bin_dir)


def _wait_for(path: str, *args: str, timeout_s: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env={**os.environ, "PATH": path},
        check=False,
    )


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Ping(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/api/v3/ping" else 404)
        self.end_headers()
        self.wfile.write(b'{"apiVersion":"v3"}')

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(status: int) -> Iterator[int]:
    handler = type("Handler", (_Ping,), {"status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def ping_port() -> Iterator[int]:
    yield from _serve(200)


@pytest.fixture
def failing_ping_port() -> Iterator[int]:
    yield from _serve(503)


def test_starts_the_command_once_a_port_listens(busybox_path: str, listening_port: int) -> None:
    done = _wait_for(busybox_path, f"tcp:{listening_port}", "--", "echo", "started", "with", "args")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"wait-for: tcp:{listening_port} up after 0 s; starting echo",
        "started with args",
    ]


def test_waits_for_a_port_that_opens_later(busybox_path: str) -> None:
    port = _closed_port()
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", port))
    opener = threading.Timer(1.0, server.listen)  # the dependency comes up a second after the waiter starts
    opener.start()
    try:
        done = _wait_for(busybox_path, "--timeout", "20", f"tcp:{port}", "--", "echo", "started")
    finally:
        opener.cancel()
        server.close()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "started"


def test_gives_up_at_the_deadline_naming_the_dependency_and_the_command(busybox_path: str) -> None:
    port = _closed_port()
    done = _wait_for(busybox_path, "--timeout", "1", f"tcp:{port}", "--", "/core-data", "-cc", "x")
    assert done.returncode == 1
    assert done.stderr.strip() == f"wait-for: tcp:{port} is not up after 1 s; not starting /core-data"
    assert done.stdout == ""


def test_http_dependency_needs_a_ping_that_answers_2xx(
    busybox_path: str, ping_port: int, failing_ping_port: int, listening_port: int
) -> None:
    assert _wait_for(busybox_path, "--timeout", "0", f"http:{ping_port}").returncode == 0
    assert _wait_for(busybox_path, "--timeout", "0", f"http:{failing_ping_port}").returncode == 1
    # A listener that never answers HTTP is not up, and the probe still ends within its bound.
    assert _wait_for(busybox_path, "--timeout", "0", f"http:{listening_port}", timeout_s=10).returncode == 1


def test_probe_mode_checks_every_dependency_once_and_prints_nothing_on_success(
    busybox_path: str, ping_port: int, listening_port: int
) -> None:
    done = _wait_for(busybox_path, "--timeout", "0", f"tcp:{listening_port}", f"http:{ping_port}")
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    closed = _closed_port()
    done = _wait_for(busybox_path, "--timeout", "0", f"tcp:{listening_port}", f"tcp:{closed}")
    assert done.returncode == 1 and f"tcp:{closed} is not up" in done.stderr


def test_an_unknown_dependency_kind_is_a_usage_error(busybox_path: str) -> None:
    done = _wait_for(busybox_path, "udp:53", "--", "true")
    assert done.returncode == 2
    assert done.stderr.strip() == "wait-for: unknown dependency 'udp:53'; write tcp:PORT or http:PORT"


def _rendered_pod() -> dict[str, dict[str, Any]]:
    objects = manifests.render(release="4.0", distro="podman", images=manifests.ImageSource.parse("lab"), run_id="r")
    pod = next(obj for obj in objects if obj["kind"] == "Pod")
    return {container["name"]: container for container in pod["spec"]["containers"]}


def _dependencies(container: dict[str, Any]) -> list[str]:
    command: list[str] = list(container.get("command") or [])
    if command[:2] != ["/bin/sh", "/etc/edgex-smoke/start/wait-for.sh"]:
        return []
    return command[2 : command.index("--")]


def test_the_pod_starts_in_dependency_order() -> None:
    info = manifests.release_info("4.0")
    port = {service.name: service.port for service in info.services}
    database, broker = f"tcp:{info.database.port}", f"tcp:{info.broker.port}"
    containers = _rendered_pod()
    assert {name: _dependencies(c) for name, c in containers.items()} == {
        "database": [],
        "mqtt-broker": [],
        "core-metadata": [database, broker],
        "core-data": [database, broker, f"http:{port['core-metadata']}"],
        "core-command": [broker, f"http:{port['core-metadata']}"],
        "device-virtual": [f"http:{port['core-metadata']}", f"http:{port['core-data']}"],
        "device-rest": [f"http:{port['core-metadata']}", f"http:{port['core-data']}"],
        "device-mqtt": [f"http:{port['core-metadata']}", f"http:{port['core-data']}"],
        "gateway": [],
    }
    for service in info.services:
        command = containers[service.container]["command"]
        assert command[-1] == f"/{service.name}", "the service binary is exec'd last, with the args appended"


def test_every_container_has_a_readiness_probe_on_its_own_port() -> None:
    info = manifests.release_info("4.0")
    containers = _rendered_pod()
    probes = {name: c["readinessProbe"] for name, c in containers.items()}
    for service in info.services:
        assert probes[service.container] == {
            "exec": {
                "command": ["/bin/sh", "/etc/edgex-smoke/start/wait-for.sh", "--timeout", "0", f"http:{service.port}"]
            },
            "periodSeconds": 2,
            "timeoutSeconds": 5,
        }
    assert probes["database"]["exec"]["command"][0] == "pg_isready"
    assert probes["mqtt-broker"]["exec"]["command"][-1] == f"tcp:{info.broker.port}"
    assert probes["gateway"]["tcpSocket"] == {"port": "http"}


@pytest.mark.parametrize("security", ["off", "on"])
def test_every_port_of_the_pod_in_the_ephemeral_range_is_reserved(security: str) -> None:
    lab_images = manifests.ImageSource.parse("lab")
    objects = manifests.render(release="4.0", distro="k8s", images=lab_images, security=security, run_id="r")
    pod = next(obj for obj in objects if obj["kind"] == "Pod")
    secure = "54321,54322,54325,59842,59843"  # stage gates, proxy-auth, secretstore-setup: reserved in both modes
    reserved = {"name": manifests.RESERVED_PORTS_SYSCTL, "value": f"{secure},59880,59881,59882,59900,59982,59986"}
    assert pod["spec"]["securityContext"]["sysctls"] == [reserved]
    info = manifests.release_info("4.0")
    ports = {int(port) for port in reserved["value"].split(",")}
    assert {service.port for service in info.services} <= ports
    assert {info.database.port, info.broker.port, 8200}.isdisjoint(ports), "below the ephemeral range: not reserved"


def test_podman_before_4_6_gets_the_same_reservation_from_the_project_containers_conf() -> None:
    conf = tomllib.loads((Path(__file__).resolve().parent.parent / ".ci" / "containers.conf").read_text())
    expected = f"{manifests.RESERVED_PORTS_SYSCTL}={manifests.reserved_ports(manifests.release_info('4.0'))}"
    assert conf["containers"]["default_sysctls"] == [expected]


def test_hostnetwork_overlays_drop_the_network_sysctl() -> None:
    objects = manifests.render(release="4.0", distro="kubeedge", images=manifests.ImageSource.parse("lab"), run_id="r")
    pod = next(obj for obj in objects if obj["kind"] == "Pod")
    assert pod["spec"]["hostNetwork"] is True
    assert "sysctls" not in pod["spec"].get("securityContext", {})
