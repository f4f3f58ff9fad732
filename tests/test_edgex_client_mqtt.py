"""MqttWatcher against a real mosquitto: subscribe first, then trigger, then wait."""

from __future__ import annotations

import json
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edgex_client import Message, MqttWatcher, event_from_device, fresh_event
from harness.errors import BrokerError, EventTimeoutError
from tests import _servers

EVENT_TOPIC_PREFIX = "edgex/events/device/device-virtual"


def _event_envelope(device: str, source: str, value: str, *, origin_ns: int | None = None) -> bytes:
    """A 4.0.x MessageEnvelope with a JSON-object payload, as EdgeX publishes it."""
    event = {
        "apiVersion": "v3",
        "id": "6a1f0c2e-0000-4000-8000-000000000001",
        "deviceName": device,
        "profileName": device,
        "sourceName": source,
        "origin": origin_ns or time.time_ns(),
        "readings": [
            {"resourceName": source, "valueType": "Int8", "value": value, "origin": origin_ns or time.time_ns()}
        ],
    }
    envelope = {
        "apiVersion": "v3",
        "receivedTopic": "",
        "correlationID": "0d6b9b4e-0000-4000-8000-000000000002",
        "requestID": "",
        "errorCode": 0,
        "payload": {"apiVersion": "v3", "requestId": "", "event": event},
        "contentType": "application/json",
    }
    return json.dumps(envelope).encode()


def _topic(device: str, source: str) -> str:
    return f"{EVENT_TOPIC_PREFIX}/{device}/{device}/{source}"


def test_mqtt_watcher_receives_an_event_published_after_subscribing(mosquitto_port: int) -> None:
    topic = _topic("Random-Integer-Device", "Int8")
    with (
        MqttWatcher("127.0.0.1", mosquitto_port) as watcher,
        MqttWatcher("127.0.0.1", mosquitto_port, client_id_prefix="edgex-smoke-trigger") as trigger,
    ):
        watcher.subscribe("edgex/events/#", timeout_s=5)
        before = time.monotonic()
        trigger.publish(topic, _event_envelope("Random-Integer-Device", "Int8", "42"))

        message = watcher.expect(
            event_from_device("Random-Integer-Device"), timeout_s=5, what="Random-Integer-Device event"
        )

    assert message.topic == topic
    assert before <= message.received_at <= time.monotonic()
    envelope = message.envelope()
    assert envelope.topic == topic
    assert envelope.correlation_id == "0d6b9b4e-0000-4000-8000-000000000002"
    assert envelope.event is not None
    assert envelope.event["readings"][0]["value"] == "42"


def test_mqtt_watcher_plus_wildcard_lets_the_broker_filter_devices(mosquitto_port: int) -> None:
    with MqttWatcher("127.0.0.1", mosquitto_port) as watcher:
        watcher.subscribe("edgex/events/device/+/Random-Integer-Device/#")
        watcher.publish(_topic("Random-Float-Device", "Float32"), _event_envelope("Random-Float-Device", "F", "1"))
        watcher.publish(_topic("Random-Integer-Device", "Int16"), _event_envelope("Random-Integer-Device", "I", "2"))

        first = watcher.expect(lambda message: True, timeout_s=5, what="any message")

    assert first.topic == _topic("Random-Integer-Device", "Int16")


def test_mqtt_watcher_keeps_messages_that_arrive_before_expect(mosquitto_port: int) -> None:
    with MqttWatcher("127.0.0.1", mosquitto_port) as watcher:
        watcher.subscribe("incoming/data/MQTT-test-device/+")
        watcher.publish("incoming/data/MQTT-test-device/randfloat32", "5.67")
        watcher.publish("incoming/data/MQTT-test-device/randfloat64", "6.78")

        first = watcher.expect(lambda m: m.payload == b"5.67", timeout_s=5, what="randfloat32 value")
        second = watcher.expect(lambda m: True, timeout_s=5, what="next value")

    assert (first.topic, second.topic, second.payload) == (
        "incoming/data/MQTT-test-device/randfloat32",
        "incoming/data/MQTT-test-device/randfloat64",
        b"6.78",
    )


def test_mqtt_watcher_timeout_names_what_filters_and_what_was_seen(mosquitto_port: int) -> None:
    with MqttWatcher("127.0.0.1", mosquitto_port) as watcher:
        watcher.subscribe("edgex/events/#")
        watcher.subscribe("edgex/system-events/#")
        watcher.publish(_topic("Random-Boolean-Device", "Bool"), _event_envelope("Random-Boolean-Device", "Bool", "1"))
        watcher.publish("edgex/events/device/junk", b"\x00not json")
        started = time.monotonic()

        with pytest.raises(EventTimeoutError) as caught:
            watcher.expect(event_from_device("Random-Float-Device"), timeout_s=0.5, what="Random-Float-Device event")
        elapsed_s = time.monotonic() - started

    assert str(caught.value) == (
        f"mqtt broker 127.0.0.1:{mosquitto_port}: no Random-Float-Device event within 0.5 s on "
        "'edgex/events/#', 'edgex/system-events/#'; 2 non-matching message(s) seen, 1 not EdgeX envelopes, "
        "last on 'edgex/events/device/junk'; check that the trigger happened and that the topic filter matches "
        "EdgeX's topics"
    )
    assert 0.5 <= elapsed_s < 3


def test_mqtt_watcher_connection_refused_is_one_line_broker_error() -> None:
    port = _servers.free_port()
    watcher = MqttWatcher("127.0.0.1", port, connect_timeout_s=3)
    with pytest.raises(BrokerError) as caught:
        watcher.connect()
    message = str(caught.value)
    assert message.startswith(f"mqtt broker 127.0.0.1:{port}: connection refused (")
    assert message.endswith(f"is the broker running and port {port} published?")
    assert "\n" not in message
    assert caught.value.kind == "product"


def test_mqtt_watcher_client_ids_are_unique_and_coexist(mosquitto_port: int) -> None:
    with (
        MqttWatcher("127.0.0.1", mosquitto_port, client_id_prefix="device-mqtt") as first,
        MqttWatcher("127.0.0.1", mosquitto_port, client_id_prefix="device-mqtt") as second,
    ):
        assert first.client_id != second.client_id
        assert first.client_id.startswith("device-mqtt-")
        for watcher in (first, second):
            watcher.subscribe("edgex/events/#")
        first.publish(_topic("Random-Boolean-Device", "Bool"), _event_envelope("Random-Boolean-Device", "Bool", "1"))

        received = [w.expect(lambda m: True, timeout_s=5, what="the shared event") for w in (first, second)]

    assert [m.topic for m in received] == [_topic("Random-Boolean-Device", "Bool")] * 2


def test_mqtt_watcher_reports_a_takeover_by_the_same_client_id(mosquitto_port: int) -> None:
    with MqttWatcher("127.0.0.1", mosquitto_port) as watcher:
        watcher.subscribe("edgex/events/#")
        # What device-mqtt's two clients do to each other on a real EdgeX 4.0.2: the broker drops the older one.
        intruder = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=watcher.client_id)
        intruder.connect("127.0.0.1", mosquitto_port)
        intruder.loop_start()
        try:
            started = time.monotonic()
            with pytest.raises(BrokerError) as caught:
                watcher.expect(lambda m: True, timeout_s=10, what="any event")
            with pytest.raises(BrokerError, match="lost"):
                watcher.expect(lambda m: True, timeout_s=10, what="a later event")
            elapsed_s = time.monotonic() - started
        finally:
            intruder.disconnect()
            intruder.loop_stop()

    message = str(caught.value)
    assert message.startswith(f"mqtt broker 127.0.0.1:{mosquitto_port}: connection of {watcher.client_id} lost (")
    assert "same client ID" in message
    assert elapsed_s < 5  # fails fast instead of waiting out the timeout


def test_mqtt_watcher_subscribe_after_close_is_a_broker_error(mosquitto_port: int) -> None:
    watcher = MqttWatcher("127.0.0.1", mosquitto_port)
    with watcher:
        pass
    with pytest.raises(BrokerError, match=r"could not send SUBSCRIBE 'edgex/#'.*still connected"):
        watcher.subscribe("edgex/#", timeout_s=1)
    with pytest.raises(BrokerError, match=r"publish to 'edgex/x' failed"):
        watcher.publish("edgex/x", b"1", timeout_s=1)


def test_mqtt_message_envelope_decodes_its_payload() -> None:
    message = Message(
        topic=_topic("Random-Integer-Device", "Int8"),
        payload=_event_envelope("Random-Integer-Device", "Int8", "-7"),
        received_at=0.0,
    )
    event = message.envelope().event
    assert event is not None
    assert (event["deviceName"], event["readings"][0]["value"]) == ("Random-Integer-Device", "-7")
    assert event_from_device("Random-Integer-Device")(message)
    assert not event_from_device("Random-Float-Device")(message)


def test_a_retained_event_is_not_fresh_even_with_a_new_origin(mosquitto_port: int) -> None:
    topic = _topic("Random-Integer-Device", "Int8")
    with MqttWatcher("127.0.0.1", mosquitto_port, client_id_prefix="edgex-smoke-trigger") as trigger:
        trigger.publish(topic, _event_envelope("Random-Integer-Device", "Int8", "1"), retain=True)
        try:
            since_ns = time.time_ns() - 10**9  # the retained event's origin is after this: only `retained` rules it out
            with MqttWatcher("127.0.0.1", mosquitto_port) as watcher:
                watcher.subscribe("edgex/events/#", timeout_s=5)
                with pytest.raises(EventTimeoutError, match="1 non-matching message"):
                    watcher.expect(fresh_event(since_ns), timeout_s=1, what="a fresh event")
                trigger.publish(topic, _event_envelope("Random-Integer-Device", "Int8", "2"))
                message = watcher.expect(fresh_event(since_ns), timeout_s=5, what="a fresh event")
        finally:
            trigger.publish(topic, b"", retain=True)  # an empty retained message clears the broker's copy
    assert not message.retained
    assert (message.envelope().event or {})["readings"][0]["value"] == "2"


def test_an_event_produced_before_the_subscription_is_not_fresh(mosquitto_port: int) -> None:
    topic = _topic("Random-Integer-Device", "Int8")
    an_hour_ago_ns = time.time_ns() - 3600 * 10**9
    since_ns = time.time_ns()
    with (
        MqttWatcher("127.0.0.1", mosquitto_port) as watcher,
        MqttWatcher("127.0.0.1", mosquitto_port, client_id_prefix="edgex-smoke-trigger") as trigger,
    ):
        watcher.subscribe("edgex/events/#", timeout_s=5)
        trigger.publish(topic, _event_envelope("Random-Integer-Device", "Int8", "3", origin_ns=an_hour_ago_ns))
        with pytest.raises(EventTimeoutError, match="1 non-matching message"):
            watcher.expect(fresh_event(since_ns), timeout_s=1, what="a fresh event")
