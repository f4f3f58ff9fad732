"""SmokeRun's phases with a distro test double, the EdgeX gateway test double and a real mosquitto.

This is where provision → apply → ready → first_event → teardown and the report they fill are
exercised fast, with faults a real EdgeX cannot be asked for. The doubles stand in for the target
and for EdgeX only; the broker, the MQTT client and the HTTP client are real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import paho.mqtt.publish
import pytest

import manifests
from distros import ContainerState, Deployment, Endpoints, Fingerprint, KubeObject, Target
from edgex_smoke.lifecycle import SmokeRun
from edgex_smoke.options import RunOptions
from edgex_smoke.status import StatusLine
from harness.errors import DiagnosedError
from reports.writer import RunReport
from tests import _servers
from tests._doubles import EdgeXGatewayDouble

BOOL_TOPIC = "edgex/events/device/device-virtual/Random-Boolean-Device/Random-Boolean-Device/Bool"


@dataclass
class DistroDouble:
    """Test double of a target: records the calls, runs nothing. Never registered, never reported."""

    name: ClassVar[str] = "double"
    endpoints_value: Endpoints
    calls: list[str] = field(default_factory=list)
    states: list[ContainerState] = field(default_factory=list)
    pullable: bool = True
    log_lines: dict[str, str] = field(default_factory=dict)

    def preflight(self, images: Sequence[str]) -> None:
        self.calls.append(f"preflight {len(images)}")

    def up(self) -> Target:
        self.calls.append("up")
        return Target(distro=self.name, name="here", mode="embedded", created=False)

    def wait_ready(self, target: Target, *, timeout_s: float) -> None:
        self.calls.append("wait_ready")

    def fingerprint(self, target: Target) -> Fingerprint:
        return Fingerprint({"double_version": "1"})

    def reap(self, target: Target) -> list[str]:
        return ["pod old (run r0)"]

    def can_pull(self, image: str) -> bool:
        self.calls.append(f"can_pull {image}")
        return self.pullable

    def load_images(self, target: Target, images: Sequence[str]) -> None:
        self.calls.append(f"load_images {images[0]}")

    def image_digests(self, images: Sequence[str]) -> dict[str, str | None]:
        return {ref: "sha256:" + "0" * 64 for ref in images}

    def deploy(self, target: Target, objects: Sequence[KubeObject]) -> Deployment:
        self.calls.append("deploy")
        return Deployment(pod="edgex", run_id="r1", created=True, objects=tuple(objects))

    def find_deployment(self, target: Target) -> Deployment:
        return Deployment(pod="edgex", run_id="r0", created=False)

    def wait_deployed(self, target: Target, deployment: Deployment, *, timeout_s: float) -> None:
        self.calls.append("wait_deployed")

    def containers(self, target: Target, deployment: Deployment) -> list[ContainerState]:
        return list(self.states)

    def endpoints(self, target: Target, deployment: Deployment) -> Endpoints:
        return self.endpoints_value

    def container_host(self, target: Target, deployment: Deployment, container: str) -> Any:
        raise NotImplementedError

    def logs(self, target: Target, deployment: Deployment, container: str, *, tail_lines: int) -> str:
        return self.log_lines.get(container, "")

    def collect_diagnostics(self, target: Target, deployment: Deployment | None, dest: Path) -> list[Path]:
        self.calls.append("collect_diagnostics")
        return []

    def undeploy(self, target: Target, deployment: Deployment) -> None:
        self.calls.append("undeploy")

    def down(self, target: Target) -> None:
        self.calls.append("down")


def _options(tmp_path: Path, *, keep: bool = False, ready_timeout_s: float = 10, images: str = "lab") -> RunOptions:
    return RunOptions(
        distro="podman",
        release="4.0",
        security="off",
        images=images,
        keep=keep,
        reuse=False,
        report_dir=tmp_path,
        ready_timeout_s=ready_timeout_s,
        gateway_http_port=8000,
        gateway_mqtt_port=1884,
    )


@pytest.fixture
def gateway() -> Iterator[EdgeXGatewayDouble]:
    with EdgeXGatewayDouble() as double:
        yield double


def _run(
    tmp_path: Path, gateway: EdgeXGatewayDouble, broker_port: int, *, pullable: bool = True, **kwargs: Any
) -> tuple[SmokeRun, list[str]]:
    lines: list[str] = []
    report = RunReport(distro="podman", mode="embedded", release="4.0", image_source="lab")
    endpoints = Endpoints(gateway_url=gateway.base_url, gateway_port=8000, mqtt_host="127.0.0.1", mqtt_port=broker_port)
    double = DistroDouble(endpoints, pullable=pullable)
    run = SmokeRun(_options(tmp_path, **kwargs), report, StatusLine(lines.append), distro=double)
    return run, lines


@contextmanager
def _publishing_fresh_events(port: int) -> Iterator[None]:
    """Publish a new event (origin now, not retained) every 0.2 s, as device-virtual's autoevents do, until exit."""
    stop = threading.Event()

    def publish() -> None:
        while not stop.is_set():
            event = {"deviceName": "Random-Boolean-Device", "origin": time.time_ns()}
            envelope = {"apiVersion": "v3", "contentType": "application/json", "payload": {"event": event}}
            paho.mqtt.publish.single(BOOL_TOPIC, json.dumps(envelope), hostname="127.0.0.1", port=port)
            stop.wait(0.2)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    try:
        yield
    finally:
        stop.set()
        publisher.join(timeout=5)


def test_phases_fill_the_report_and_teardown_removes_the_pod(
    tmp_path: Path, gateway: EdgeXGatewayDouble, mosquitto_port: int
) -> None:
    run, lines = _run(tmp_path, gateway, mosquitto_port)

    with _publishing_fresh_events(mosquitto_port):
        live = run.start()
        live.bus.wait(lambda _m: True, timeout_s=10, what="the publisher's first event")
        run.finish(failed=False)
    report = run.report.to_dict()

    double = run.distro
    assert double.calls == [  # type: ignore[attr-defined]
        "preflight 9",
        "up",
        "wait_ready",
        "load_images localhost/edgex-smoke-lab/infra:bookworm",
        "deploy",
        "wait_deployed",
        "undeploy",
        "down",
    ]
    assert live.services == tuple(s.name for s in manifests.release_info("4.0").services)
    for phase in ("provision", "apply", "ready", "first_event", "teardown"):
        assert report["phases"][phase] is not None, phase
    assert set(report["edgex"]["versions"]) == set(live.services)
    assert {image["component"] for image in report["edgex"]["images"]} == set(live.images)
    assert report["reaped"] == ["pod old (run r0)"]
    assert report["target"]["fingerprint"] == {"double_version": "1"}
    assert {image["digest"] for image in report["edgex"]["images"]} == {"sha256:" + "0" * 64}
    assert any("services to answer ping through the gateway" in line for line in lines)
    assert lines[-1].startswith("edgex-smoke [teardown] done in")


def test_a_crash_looping_container_ends_the_ready_wait_at_once_naming_it(
    tmp_path: Path, gateway: EdgeXGatewayDouble, mosquitto_port: int
) -> None:
    gateway.down_services.add("device-mqtt")
    run, _ = _run(tmp_path, gateway, mosquitto_port, ready_timeout_s=2)
    run.distro.states = [  # type: ignore[attr-defined]
        ContainerState(name="core-data", state="running", ready=True, restarts=0),
        ContainerState(name="device-mqtt", state="exited", ready=False, restarts=3, exit_code=1),
    ]
    run.distro.log_lines["device-mqtt"] = 'level=INFO msg=start\nlevel=ERROR msg="Failed to load devices: 503"'  # type: ignore[attr-defined]
    started = time.monotonic()
    with pytest.raises(DiagnosedError) as caught:
        run.start()
    assert time.monotonic() - started < 2, "a crash loop ends the wait at once, not at the deadline"
    assert str(caught.value) == (
        "device-mqtt: exited, exit code 1, 3 restart(s); last error: Failed to load devices: 503; "
        "see its log in the diagnostics"
    )
    assert caught.value.cause.component == "device-mqtt"
    assert run.current_phase == "ready"
    run.finish(failed=True)
    assert "collect_diagnostics" in run.distro.calls  # type: ignore[attr-defined]
    assert "undeploy" in run.distro.calls  # type: ignore[attr-defined]


def test_no_event_leaves_first_event_unreached_but_the_run_goes_on(
    tmp_path: Path, gateway: EdgeXGatewayDouble, mosquitto_port: int
) -> None:
    run, _ = _run(tmp_path, gateway, mosquitto_port, keep=True)
    started = time.monotonic()
    live = run.start()
    assert time.monotonic() - started < 10, "the start does not wait for an event: the checks run meanwhile"
    assert live.bus.failure is None, "the observer subscribed through the gateway's MQTT route"
    run.finish(failed=False)
    report = run.report.to_dict()
    assert report["phases"]["ready"] is not None
    assert report["phases"]["first_event"] is None
    assert "undeploy" not in run.distro.calls, "--keep leaves the pod"  # type: ignore[attr-defined]


def test_a_broker_that_refuses_the_observer_leaves_the_run_going_with_the_reason_kept(
    tmp_path: Path, gateway: EdgeXGatewayDouble
) -> None:
    refusing_port = _servers.free_port()  # nothing listens there: the observer's connect is refused
    run, lines = _run(tmp_path, gateway, refusing_port, keep=True)
    live = run.start()
    assert live.bus.failure is not None
    assert f"127.0.0.1:{refusing_port}" in str(live.bus.failure)
    assert any("the bus observer did not start" in line for line in lines)
    with pytest.raises(type(live.bus.failure)):
        live.bus.wait(lambda _m: True, timeout_s=1, what="anything")
    run.finish(failed=False)
    assert run.report.to_dict()["phases"]["first_event"] is None


@pytest.mark.parametrize("pullable", [True, False])
def test_images_auto_is_settled_by_one_probe_before_preflight(
    tmp_path: Path, gateway: EdgeXGatewayDouble, mosquitto_port: int, pullable: bool
) -> None:
    source = "upstream" if pullable else "lab"
    run, lines = _run(tmp_path, gateway, mosquitto_port, pullable=pullable, images="auto")
    run.start()
    run.finish(failed=False)
    calls = run.distro.calls  # type: ignore[attr-defined]
    probe = manifests.image_refs(
        manifests.render(
            release="4.0",
            distro="podman",
            images=manifests.ImageSource.parse("upstream"),
            security="off",
            run_id=run.report.run_id,
            gateway_http_port=8000,
            gateway_mqtt_port=1884,
        )
    )["database"]
    assert calls[:3] == [f"can_pull {probe}", "preflight 9", "up"]
    loaded = next(call for call in calls if call.startswith("load_images "))
    assert loaded.split()[1].startswith("localhost/edgex-smoke-lab/" if source == "lab" else "docker.io/")
    assert run.report.to_dict()["edgex"]["image_source"] == source
    assert any("using the lab images" in line for line in lines) is (source == "lab")


def test_a_silent_service_at_the_deadline_is_named_with_what_the_gateway_said(
    tmp_path: Path, gateway: EdgeXGatewayDouble, mosquitto_port: int
) -> None:
    gateway.down_services.add("device-mqtt")
    run, _ = _run(tmp_path, gateway, mosquitto_port, ready_timeout_s=2)
    run.distro.states = [ContainerState(name="device-mqtt", state="running", ready=True, restarts=0)]  # type: ignore[attr-defined]
    with pytest.raises(DiagnosedError) as caught:
        run.start()
    message = str(caught.value)
    assert message.startswith("device-mqtt: does not answer /api/v3/ping through the gateway; device-mqtt: GET ")
    assert message.endswith(
        "device-mqtt did not answer /api/v3/ping through the gateway within 2 s (5/6 answered); see the diagnostics"
    )
    assert "\n" not in message
