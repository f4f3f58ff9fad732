"""Client side of the EdgeX smoke test: REST through the API gateway, and the MQTT message bus.

`GatewayClient` reaches every service through the gateway's ``/<service>/``
routes; `MqttWatcher` subscribes, publishes and waits for messages;
`BusObserver` keeps one run-long subscription for every check that asks; `decode_envelope`
turns a bus payload into an `Envelope`; `wait_for` bounds any other wait.
"""

from __future__ import annotations

from edgex_client.envelope import Envelope, EnvelopeError, decode_envelope, produced_since
from edgex_client.gateway import ALL_RESULTS, API_BASE, GATEWAY_SERVICES, GatewayClient
from edgex_client.mqtt import Message, MqttWatcher, event_from_device, fresh_event
from edgex_client.observer import BusObserver
from edgex_client.ping import Ping, parse_timestamp
from edgex_client.readings import parse_number, reading_value, same_number
from edgex_client.waiting import wait_for

__all__ = [
    "ALL_RESULTS",
    "API_BASE",
    "GATEWAY_SERVICES",
    "BusObserver",
    "Envelope",
    "EnvelopeError",
    "GatewayClient",
    "Message",
    "MqttWatcher",
    "Ping",
    "decode_envelope",
    "event_from_device",
    "fresh_event",
    "parse_number",
    "parse_timestamp",
    "produced_since",
    "reading_value",
    "same_number",
    "wait_for",
]
