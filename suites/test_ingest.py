"""h. device-rest ingests a POST; i. device-mqtt ingests a publish. Both values must reach core-data."""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest

from edgex_client import BusObserver, GatewayClient, Message, fresh_event, produced_since, same_number, wait_for
from edgex_smoke.lifecycle import LiveEdgeX
from harness.errors import EventTimeoutError, GatewayError
from suites._expect import fail, require

ARRIVAL_TIMEOUT_S = 30.0
CORE_DATA_POLL_S = 0.2
"""core-data stores an event within milliseconds of its bus message: poll briskly once the bus carried it."""
REST_DEVICE, REST_RESOURCE = "sample-numeric", "int"
MQTT_DEVICE, MQTT_RESOURCE = "MQTT-test-device", "randfloat32"


def _has_value(events: list[dict[str, Any]], resource: str, expected: str, *, since_ns: int) -> bool:
    """True if one of `events`, produced at or after `since_ns`, has a reading of `resource` equal to `expected`."""
    for event in events:
        if not produced_since(event, since_ns):
            continue
        for reading in event.get("readings") or []:
            if reading.get("resourceName") == resource and same_number(str(reading.get("value")), expected):
                return True
    return False


def _bus_event(
    bus: BusObserver, service: str, device: str, resource: str, value: str, *, since_ns: int, after: str
) -> Message:
    """The event `service` published for the value, or a failure naming `service` as the hop that broke."""

    def carries_value(event: dict[str, Any]) -> bool:
        return event.get("deviceName") == device and _has_value([event], resource, value, since_ns=since_ns)

    try:
        return bus.wait(
            fresh_event(since_ns, carries_value), timeout_s=ARRIVAL_TIMEOUT_S, what=f"{device}/{resource}={value}"
        )
    except EventTimeoutError as err:
        fail(f"{service}: {after}, but published no event for it on the message bus ({err})")


def _wait_in_core_data(
    gateway: GatewayClient, service: str, device: str, resource: str, expected: str, *, since_ns: int
) -> None:
    try:
        wait_for(
            lambda: _has_value(gateway.events_for_device(device, limit=50), resource, expected, since_ns=since_ns),
            timeout_s=ARRIVAL_TIMEOUT_S,
            interval_s=CORE_DATA_POLL_S,
            what=f"an event of {device} with {resource}={expected}, produced by this run",
        )
    except EventTimeoutError as err:
        fail(f"core-data: the {service} event reached the message bus, but core-data does not list it ({err})")


def _unguessable_float() -> str:
    """A value drawn from 9,000,000, with seven significant digits.

    After Float32 rounding and `same_number`'s tolerance about 500,000 stay apart; the event must be
    this run's (by its origin) as well.
    """
    return f"{1 + secrets.randbelow(9_000_000) / 1_000_000:.6f}"


@pytest.mark.check("h", "device-rest-ingest")
def test_device_rest_post_reaches_core_data_and_mqtt(edgex: LiveEdgeX, gateway: GatewayClient) -> None:
    value = str(1000 + secrets.randbelow(9_000_000))
    since_ns = time.time_ns()
    try:
        gateway.rest_post(REST_DEVICE, REST_RESOURCE, value)
    except GatewayError as err:
        fail(f"device-rest: refused the POST of {REST_DEVICE}/{REST_RESOURCE}={value} ({err})")
    message = _bus_event(
        edgex.bus, "device-rest", REST_DEVICE, REST_RESOURCE, value, since_ns=since_ns, after="accepted the POST"
    )
    require(message.topic.endswith(f"/{REST_DEVICE}/{REST_RESOURCE}"), f"message bus: unexpected topic {message.topic}")
    _wait_in_core_data(gateway, "device-rest", REST_DEVICE, REST_RESOURCE, value, since_ns=since_ns)


@pytest.mark.check("i", "device-mqtt-ingest")
def test_device_mqtt_publish_reaches_core_data(edgex: LiveEdgeX, gateway: GatewayClient) -> None:
    value = _unguessable_float()
    since_ns = time.time_ns()
    incoming = f"incoming/data/{MQTT_DEVICE}/{MQTT_RESOURCE}"
    edgex.bus.publish(incoming, value)
    published = f"{value} was published to {incoming}"
    _bus_event(edgex.bus, "device-mqtt", MQTT_DEVICE, MQTT_RESOURCE, value, since_ns=since_ns, after=published)
    _wait_in_core_data(gateway, "device-mqtt", MQTT_DEVICE, MQTT_RESOURCE, value, since_ns=since_ns)
