"""h. device-rest ingests a POST; i. device-mqtt ingests a publish. Both values must reach core-data."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from edgex_client import GatewayClient, Message, same_number, wait_for
from edgex_smoke.lifecycle import LiveEdgeX
from suites._expect import require

ARRIVAL_TIMEOUT_S = 30.0
REST_DEVICE, REST_RESOURCE = "sample-numeric", "int"
MQTT_DEVICE, MQTT_RESOURCE = "MQTT-test-device", "randfloat32"


def _has_value(events: list[dict[str, object]], resource: str, expected: str) -> bool:
    for event in events:
        for reading in event.get("readings") or []:  # type: ignore[attr-defined]
            if reading.get("resourceName") == resource and same_number(str(reading.get("value")), expected):
                return True
    return False


def _event_with(device: str, resource: str, expected: str) -> Callable[[Message], bool]:
    def matches(message: Message) -> bool:
        event = message.envelope().event
        return event is not None and event.get("deviceName") == device and _has_value([event], resource, expected)

    return matches


def _wait_in_core_data(gateway: GatewayClient, service: str, device: str, resource: str, expected: str) -> None:
    wait_for(
        lambda: _has_value(gateway.events_for_device(device, limit=50), resource, expected),
        timeout_s=ARRIVAL_TIMEOUT_S,
        what=f"core-data: an event of {device} with {resource}={expected}",
        fix=f"see the logs of {service} and core-data in the run's diagnostics",
    )


@pytest.mark.check("h", "device-rest-ingest")
def test_device_rest_post_reaches_core_data_and_mqtt(edgex: LiveEdgeX, gateway: GatewayClient) -> None:
    value = str(1000 + secrets.randbelow(9_000_000))
    with edgex.mqtt() as watcher:
        watcher.subscribe(f"edgex/events/device/device-rest/+/{REST_DEVICE}/#")
        gateway.rest_post(REST_DEVICE, REST_RESOURCE, value)
        message = watcher.expect(
            _event_with(REST_DEVICE, REST_RESOURCE, value),
            timeout_s=ARRIVAL_TIMEOUT_S,
            what=f"the device-rest event {REST_DEVICE}/{REST_RESOURCE}={value}",
        )
    require(message.topic.endswith(f"/{REST_DEVICE}/{REST_RESOURCE}"), f"message bus: unexpected topic {message.topic}")
    _wait_in_core_data(gateway, "device-rest", REST_DEVICE, REST_RESOURCE, value)


@pytest.mark.check("i", "device-mqtt-ingest")
def test_device_mqtt_publish_reaches_core_data(edgex: LiveEdgeX, gateway: GatewayClient) -> None:
    value = f"{1 + secrets.randbelow(9000) / 100:.2f}"
    with edgex.mqtt() as watcher:
        watcher.publish(f"incoming/data/{MQTT_DEVICE}/{MQTT_RESOURCE}", value)
    _wait_in_core_data(gateway, "device-mqtt", MQTT_DEVICE, MQTT_RESOURCE, value)
