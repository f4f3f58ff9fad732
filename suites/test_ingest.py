"""h. device-rest ingests a POST; i. device-mqtt ingests a publish. Both values must reach core-data."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from edgex_client import GatewayClient, Message, MqttWatcher, same_number, wait_for
from edgex_smoke.lifecycle import LiveEdgeX
from harness.errors import EventTimeoutError, GatewayError
from suites._expect import fail, require

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


def _bus_event(watcher: MqttWatcher, service: str, device: str, resource: str, value: str, *, after: str) -> Message:
    """The event `service` published for the value, or a failure naming `service` as the hop that broke."""
    try:
        return watcher.expect(
            _event_with(device, resource, value), timeout_s=ARRIVAL_TIMEOUT_S, what=f"{device}/{resource}={value}"
        )
    except EventTimeoutError as err:
        fail(f"{service}: {after}, but published no event for it on the message bus ({err})")


def _wait_in_core_data(gateway: GatewayClient, service: str, device: str, resource: str, expected: str) -> None:
    try:
        wait_for(
            lambda: _has_value(gateway.events_for_device(device, limit=50), resource, expected),
            timeout_s=ARRIVAL_TIMEOUT_S,
            what=f"an event of {device} with {resource}={expected}",
        )
    except EventTimeoutError as err:
        fail(f"core-data: the {service} event reached the message bus, but core-data does not list it ({err})")


@pytest.mark.check("h", "device-rest-ingest")
def test_device_rest_post_reaches_core_data_and_mqtt(edgex: LiveEdgeX, gateway: GatewayClient) -> None:
    value = str(1000 + secrets.randbelow(9_000_000))
    with edgex.mqtt() as watcher:
        watcher.subscribe(f"edgex/events/device/device-rest/+/{REST_DEVICE}/#")
        try:
            gateway.rest_post(REST_DEVICE, REST_RESOURCE, value)
        except GatewayError as err:
            fail(f"device-rest: refused the POST of {REST_DEVICE}/{REST_RESOURCE}={value} ({err})")
        message = _bus_event(watcher, "device-rest", REST_DEVICE, REST_RESOURCE, value, after="accepted the POST")
    require(message.topic.endswith(f"/{REST_DEVICE}/{REST_RESOURCE}"), f"message bus: unexpected topic {message.topic}")
    _wait_in_core_data(gateway, "device-rest", REST_DEVICE, REST_RESOURCE, value)


@pytest.mark.check("i", "device-mqtt-ingest")
def test_device_mqtt_publish_reaches_core_data(edgex: LiveEdgeX, gateway: GatewayClient) -> None:
    value = f"{1 + secrets.randbelow(9000) / 100:.2f}"
    incoming = f"incoming/data/{MQTT_DEVICE}/{MQTT_RESOURCE}"
    with edgex.mqtt() as watcher:
        watcher.subscribe(f"edgex/events/device/device-mqtt/+/{MQTT_DEVICE}/#")
        watcher.publish(incoming, value)
        _bus_event(
            watcher, "device-mqtt", MQTT_DEVICE, MQTT_RESOURCE, value, after=f"{value} was published to {incoming}"
        )
    _wait_in_core_data(gateway, "device-mqtt", MQTT_DEVICE, MQTT_RESOURCE, value)
