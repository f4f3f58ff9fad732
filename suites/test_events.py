"""e. Events reach core-data; f. device-virtual events arrive through the gateway's MQTT route."""

from __future__ import annotations

import time
from typing import Any

import pytest

from edgex_client import GatewayClient, fresh_event
from edgex_smoke.lifecycle import LiveEdgeX
from harness.errors import EventTimeoutError
from suites._expect import fail, require

INTEGER_DEVICE = "Random-Integer-Device"
INTEGER_AUTOEVENT_S = 15.0
MARGIN_S = 15.0
VIRTUAL_EVENTS = "edgex/events/device/device-virtual/#"
INTEGER_EVENTS = f"edgex/events/device/device-virtual/+/{INTEGER_DEVICE}/#"
LEFT_ON_THE_BUS_S = 0.5
"""After the count wait: what the bus carried meanwhile is already queued; this only collects it."""
MQTT_EVENT_TIMEOUT_S = 40.0


@pytest.mark.check("e", "event-flow")
def test_integer_device_event_count_grows_within_its_interval(edgex: LiveEdgeX, gateway: GatewayClient) -> None:
    window_s = INTEGER_AUTOEVENT_S + MARGIN_S
    with edgex.mqtt() as watcher:
        watcher.subscribe(INTEGER_EVENTS)  # the bus, to tell which hop broke if the count does not grow
        before = gateway.event_count(INTEGER_DEVICE)
        try:
            after = gateway.wait_for_event_count(above=before, device=INTEGER_DEVICE, timeout_s=window_s)
        except EventTimeoutError:
            try:
                watcher.expect(lambda _m: True, timeout_s=LEFT_ON_THE_BUS_S, what=f"a {INTEGER_DEVICE} event")
            except EventTimeoutError:
                fail(
                    f"device-virtual: published no {INTEGER_DEVICE} event on {INTEGER_EVENTS} within {window_s:g} s "
                    f"(its autoevent interval is {INTEGER_AUTOEVENT_S:g} s); core-data's count stayed at {before}"
                )
            fail(
                f"core-data: {INTEGER_DEVICE} events reached the message bus, but core-data's count for it "
                f"stayed at {before} for {window_s:g} s"
            )
    require(after > before, f"core-data: event count for {INTEGER_DEVICE} stayed at {before}")


def _from_virtual_device(event: dict[str, Any]) -> bool:
    return str(event.get("deviceName", "")).startswith("Random-")


@pytest.mark.check("f", "mqtt-events")
def test_virtual_event_arrives_through_gateway_mqtt_route(edgex: LiveEdgeX) -> None:
    subscribed_ns = time.time_ns()
    with edgex.mqtt() as watcher:
        watcher.subscribe(VIRTUAL_EVENTS)
        try:
            message = watcher.expect(
                fresh_event(subscribed_ns, _from_virtual_device),
                timeout_s=MQTT_EVENT_TIMEOUT_S,
                what="a device-virtual event produced after the subscription (retained ones do not count)",
            )
        except EventTimeoutError as err:
            fail(f"device-virtual: published no event through the gateway's MQTT route ({err})")
    event = message.envelope().event or {}
    require(event.get("readings"), f"message bus: event on {message.topic} carries no readings")
