"""e. Events reach core-data; f. device-virtual events arrive through the gateway's MQTT route."""

from __future__ import annotations

import pytest

from edgex_client import GatewayClient, Message
from edgex_smoke.lifecycle import LiveEdgeX
from suites._expect import require

INTEGER_DEVICE = "Random-Integer-Device"
INTEGER_AUTOEVENT_S = 15.0
MARGIN_S = 15.0
VIRTUAL_EVENTS = "edgex/events/device/device-virtual/#"
MQTT_EVENT_TIMEOUT_S = 40.0


@pytest.mark.check("e", "event-flow")
def test_integer_device_event_count_grows_within_its_interval(gateway: GatewayClient) -> None:
    before = gateway.event_count(INTEGER_DEVICE)
    after = gateway.wait_for_event_count(above=before, device=INTEGER_DEVICE, timeout_s=INTEGER_AUTOEVENT_S + MARGIN_S)
    require(after > before, f"core-data: event count for {INTEGER_DEVICE} stayed at {before}")


def _virtual_event(message: Message) -> bool:
    event = message.envelope().event
    return event is not None and str(event.get("deviceName", "")).startswith("Random-")


@pytest.mark.check("f", "mqtt-events")
def test_virtual_event_arrives_through_gateway_mqtt_route(edgex: LiveEdgeX) -> None:
    with edgex.mqtt() as watcher:
        watcher.subscribe(VIRTUAL_EVENTS)
        message = watcher.expect(_virtual_event, timeout_s=MQTT_EVENT_TIMEOUT_S, what="a device-virtual event")
    event = message.envelope().event or {}
    require(event.get("readings"), f"message bus: event on {message.topic} carries no readings")
