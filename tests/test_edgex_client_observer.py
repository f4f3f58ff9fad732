"""The run's bus observer on a real mosquitto: it keeps what arrived, answers every check, and says why it cannot."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import paho.mqtt.publish
import pytest

from edgex_client import BusObserver, MqttWatcher, fresh_event
from harness.errors import BrokerError, EventTimeoutError
from tests import _servers

TOPIC = "edgex/events/device/device-virtual/Random-Integer-Device/Random-Integer-Device/Int8"


def _publish_event(port: int, device: str, *, origin_ns: int | None = None, retain: bool = False) -> None:
    event = {"deviceName": device, "origin": origin_ns or time.time_ns(), "readings": [{"value": "1"}]}
    envelope = {"apiVersion": "v3", "contentType": "application/json", "payload": {"event": event}}
    paho.mqtt.publish.single(
        TOPIC.replace("Random-Integer-Device", device),
        json.dumps(envelope),
        hostname="127.0.0.1",
        port=port,
        retain=retain,
    )


def _observer(port: int) -> BusObserver:
    observer = BusObserver(MqttWatcher("127.0.0.1", port, client_id_prefix="observer-test"))
    observer.start()
    assert observer.failure is None
    return observer


def test_a_message_that_arrived_before_the_wait_answers_it_and_every_later_one(mosquitto_port: int) -> None:
    observer = _observer(mosquitto_port)
    try:
        _publish_event(mosquitto_port, "Random-Integer-Device")
        _publish_event(mosquitto_port, "Random-Boolean-Device")
        first = observer.wait(
            fresh_event(observer.started_ns, lambda e: e["deviceName"] == "Random-Boolean-Device"),
            timeout_s=5,
            what="a boolean event",
        )
        again = observer.wait(fresh_event(observer.started_ns), timeout_s=1, what="any event")
        assert json.loads(first.payload)["payload"]["event"]["deviceName"] == "Random-Boolean-Device"
        assert json.loads(again.payload)["payload"]["event"]["deviceName"] == "Random-Integer-Device", (
            "a wait looks at everything kept since the start (the broker keeps one client's order)"
        )
        assert observer.first(lambda m: "Boolean" in m.topic) is not None
    finally:
        observer.close()


def test_a_message_that_arrives_during_the_wait_ends_it_and_progress_is_reported(mosquitto_port: int) -> None:
    observer = _observer(mosquitto_port)
    progress: list[tuple[str, float]] = []
    observer.progress = lambda what, waited_s: progress.append((what, waited_s))
    try:
        started = time.monotonic()
        paho.mqtt.publish.single("edgex/events/other", "not an envelope", hostname="127.0.0.1", port=mosquitto_port)
        threading.Timer(1.5, _publish_event, args=(mosquitto_port, "Random-Float-Device")).start()
        observer.wait(fresh_event(observer.started_ns), timeout_s=10, what="a float event")
        assert time.monotonic() - started < 5
        assert progress and progress[0][0] == "a float event", "a wait says what it waits for while it waits"
    finally:
        observer.close()


def test_retained_and_old_events_never_count_and_the_timeout_names_what_was_awaited(mosquitto_port: int) -> None:
    _publish_event(mosquitto_port, "Random-Integer-Device", retain=True)
    observer = _observer(mosquitto_port)
    try:
        _publish_event(mosquitto_port, "Random-Integer-Device", origin_ns=time.time_ns() - 3600 * 10**9)
        with pytest.raises(EventTimeoutError) as caught:
            observer.wait(fresh_event(observer.started_ns), timeout_s=1.5, what="a fresh event")
        message = str(caught.value)
        assert f"127.0.0.1:{mosquitto_port}: no a fresh event within 1.5 s on 'edgex/events/#'" in message
        assert "2 other message(s) seen" in message
    finally:
        observer.close()
        paho.mqtt.publish.single(TOPIC, b"", hostname="127.0.0.1", port=mosquitto_port, retain=True)


def test_an_observer_that_could_not_start_keeps_the_broker_reason_for_every_check() -> None:
    port = _servers.free_port()
    observer = BusObserver(MqttWatcher("127.0.0.1", port))
    observer.start()
    assert isinstance(observer.failure, BrokerError)
    assert f"127.0.0.1:{port}" in str(observer.failure) and "refused" in str(observer.failure)
    with pytest.raises(BrokerError):
        observer.wait(lambda _m: True, timeout_s=1, what="anything")
    with pytest.raises(BrokerError):
        observer.publish("incoming/data/x/y", "1")
    observer.close()


def test_a_broker_that_goes_away_ends_the_wait_at_once_with_one_line(tmp_path: Path) -> None:
    with _servers.mosquitto(tmp_path) as port:
        observer = _observer(port)
    started = time.monotonic()
    with pytest.raises(BrokerError) as caught:
        observer.wait(lambda _m: True, timeout_s=20, what="a device-virtual event")
    assert time.monotonic() - started < 5, "a lost connection ends the wait, not its timeout"
    assert "dropped the run's bus observer" in str(caught.value)
    assert "while waiting for a device-virtual event" in str(caught.value)
    assert "\n" not in str(caught.value)
    observer.close()
