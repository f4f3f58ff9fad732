"""e. Events reach core-data; f. device-virtual events arrive through the gateway's MQTT route.

Both wait on EdgeX's own clock (Random-Integer-Device fires every 15 s), so they run last and
read the run's bus observer, which has been listening since the ready phase ended.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from edgex_client import GatewayClient, fresh_event
from edgex_smoke.lifecycle import LiveEdgeX
from harness.errors import EventTimeoutError
from suites._expect import fail, require
from suites.conftest import CountAtStart

INTEGER_DEVICE = "Random-Integer-Device"
INTEGER_AUTOEVENT_S = 15.0
MARGIN_S = 15.0
INTEGER_EVENTS = f"edgex/events/device/device-virtual/+/{INTEGER_DEVICE}/#"
MQTT_EVENT_TIMEOUT_S = 40.0
"""Counted from the moment the bus observer subscribed."""
COUNT_POLL_S = 0.2
"""core-data stores an event within milliseconds of its bus message; poll briskly once the bus saw it."""


def _from_integer_device(event: dict[str, Any]) -> bool:
    return event.get("deviceName") == INTEGER_DEVICE


@pytest.mark.check("e", "event-flow")
@pytest.mark.last
def test_integer_device_event_count_grows_within_its_interval(
    edgex: LiveEdgeX, gateway: GatewayClient, integer_count_at_start: CountAtStart
) -> None:
    before = integer_count_at_start.value()
    window_s = INTEGER_AUTOEVENT_S + MARGIN_S
    deadline = integer_count_at_start.at + window_s
    try:
        edgex.bus.wait(
            fresh_event(integer_count_at_start.at_ns, _from_integer_device),
            timeout_s=max(deadline - time.monotonic(), 0.0),
            what=f"a {INTEGER_DEVICE} event produced after core-data's count was read",
        )
    except EventTimeoutError:
        fail(
            f"device-virtual: published no {INTEGER_DEVICE} event on {INTEGER_EVENTS} within {window_s:g} s "
            f"(its autoevent interval is {INTEGER_AUTOEVENT_S:g} s); core-data's count stayed at {before}"
        )
    try:
        after = gateway.wait_for_event_count(
            above=before,
            device=INTEGER_DEVICE,
            timeout_s=max(deadline - time.monotonic(), COUNT_POLL_S),
            interval_s=COUNT_POLL_S,
        )
    except EventTimeoutError:
        fail(
            f"core-data: {INTEGER_DEVICE} events reached the message bus, but core-data's count for it "
            f"stayed at {before} for {window_s:g} s"
        )
    require(after > before, f"core-data: event count for {INTEGER_DEVICE} stayed at {before}")


def _from_virtual_device(event: dict[str, Any]) -> bool:
    return str(event.get("deviceName", "")).startswith("Random-")


@pytest.mark.check("f", "mqtt-events")
@pytest.mark.last
def test_virtual_event_arrives_through_gateway_mqtt_route(edgex: LiveEdgeX) -> None:
    bus = edgex.bus
    try:
        message = bus.wait(
            fresh_event(bus.started_ns, _from_virtual_device),
            timeout_s=max(MQTT_EVENT_TIMEOUT_S - (time.monotonic() - bus.started_at), 0.0),
            what="device-virtual event produced after the subscription (retained ones do not count)",
        )
    except EventTimeoutError as err:
        fail(f"device-virtual: published no event through the gateway's MQTT route ({err})")
    event = message.envelope().event or {}
    require(event.get("readings"), f"message bus: event on {message.topic} carries no readings")
