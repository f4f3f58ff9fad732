"""Decoding EdgeX MessageEnvelopes as 4.0.x (JSON object) and 2.x/3.x (base64) send them."""

from __future__ import annotations

import base64
import json

import pytest

from edgex_client import EnvelopeError, decode_envelope, reading_value
from harness.errors import ProductError

BOOL_TOPIC = "edgex/events/device/device-virtual/Random-Boolean-Device/Random-Boolean-Device/Bool"

# Shaped like the envelope seen on the bus of a real EdgeX 4.0.2.
ENVELOPE_4_0 = b"""{
  "apiVersion": "v3",
  "receivedTopic": "",
  "correlationID": "4b2c1f0e-7d41-4f52-9a0e-0b1d6a0c9f11",
  "requestID": "",
  "errorCode": 0,
  "payload": {
    "apiVersion": "v3",
    "requestId": "7f5d4c3b-2a19-4e8f-8d7c-6b5a4f3e2d1c",
    "event": {
      "apiVersion": "v3",
      "id": "a6c3e1f0-5b7d-4c2e-9f1a-3d8b0e6c4a21",
      "deviceName": "Random-Boolean-Device",
      "profileName": "Random-Boolean-Device",
      "sourceName": "Bool",
      "origin": 1795708062123456789,
      "readings": [
        {
          "id": "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e",
          "origin": 1795708062123456789,
          "deviceName": "Random-Boolean-Device",
          "resourceName": "Bool",
          "profileName": "Random-Boolean-Device",
          "valueType": "Bool",
          "value": "true"
        }
      ]
    }
  },
  "contentType": "application/json"
}"""

EVENT_3_X = {
    "apiVersion": "v3",
    "id": "5e0b7d3a-1c2f-4e6a-8b9d-0f1e2d3c4b5a",
    "deviceName": "Random-Integer-Device",
    "profileName": "Random-Integer-Device",
    "sourceName": "Int16",
    "origin": 1700000000000000000,
    # EDGEX_OPTIMIZE_EVENT_PAYLOAD=true drops per-reading deviceName and profileName
    "readings": [{"origin": 1700000000000000000, "resourceName": "Int16", "valueType": "Int16", "value": "-1234"}],
}


def _envelope_3_x() -> bytes:
    inner = json.dumps({"apiVersion": "v3", "requestId": "", "event": EVENT_3_X}).encode()
    return json.dumps(
        {
            "apiVersion": "v3",
            "receivedTopic": "edgex/events/device/device-virtual/Random-Integer-Device/Random-Integer-Device/Int16",
            "correlationID": "c0ffee00-0000-4000-8000-000000000001",
            "requestID": "",
            "errorCode": 0,
            "payload": base64.b64encode(inner).decode(),
            "contentType": "application/json",
        }
    ).encode()


def test_envelope_decodes_a_4_0_json_object_payload() -> None:
    envelope = decode_envelope(ENVELOPE_4_0, topic=BOOL_TOPIC)

    assert envelope.topic == BOOL_TOPIC
    assert envelope.correlation_id == "4b2c1f0e-7d41-4f52-9a0e-0b1d6a0c9f11"
    assert envelope.content_type == "application/json"
    assert envelope.api_version == "v3"
    assert envelope.error_code == 0
    assert envelope.payload["requestId"] == "7f5d4c3b-2a19-4e8f-8d7c-6b5a4f3e2d1c"
    event = envelope.event
    assert event is not None
    assert event["deviceName"] == "Random-Boolean-Device"
    assert event["sourceName"] == "Bool"
    assert reading_value(event, "Bool") == "true"


def test_envelope_decodes_a_3_x_base64_payload_and_falls_back_to_received_topic() -> None:
    envelope = decode_envelope(_envelope_3_x())

    assert envelope.topic == "edgex/events/device/device-virtual/Random-Integer-Device/Random-Integer-Device/Int16"
    assert envelope.correlation_id == "c0ffee00-0000-4000-8000-000000000001"
    assert envelope.event == EVENT_3_X
    assert reading_value(EVENT_3_X, "Int16") == "-1234"


def test_envelope_accepts_a_bare_payload_and_a_bare_event() -> None:
    bare_payload = json.dumps({"apiVersion": "v3", "requestId": "r-1", "event": EVENT_3_X}).encode()
    from_payload = decode_envelope(bare_payload, topic="t/1")
    assert (from_payload.topic, from_payload.request_id, from_payload.event) == ("t/1", "r-1", EVENT_3_X)

    from_event = decode_envelope(json.dumps(EVENT_3_X).encode(), topic="t/2")
    assert from_event.event == EVENT_3_X
    assert from_event.correlation_id == ""


def test_envelope_without_payload_has_no_event() -> None:
    raw = json.dumps(
        {"apiVersion": "v3", "correlationID": "x", "requestID": "y", "errorCode": 1, "payload": None, "contentType": ""}
    ).encode()

    envelope = decode_envelope(raw, topic="edgex/response/core-command/y")

    assert envelope.payload == {}
    assert envelope.event is None
    assert envelope.error_code == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"\xa7kpayload\x01", "payload is not JSON (starts b'\\xa7kpayload\\x01')"),
        (b"5.67", "JSON is a float, not an EdgeX MessageEnvelope object"),
        (b'{"name": "MQTT-test-device", "cmd": "randfloat32"}', "neither an EdgeX MessageEnvelope nor an event"),
        (
            b'{"correlationID": "c", "contentType": "application/cbor", "payload": "not base64!"}',
            "envelope payload (application/cbor) is a string but not base64 JSON",
        ),
        (b'{"correlationID": "c", "payload": [1, 2]}', "envelope payload is a list"),
    ],
)
def test_envelope_undecodable_raises_one_line_envelope_error(raw: bytes, expected: str) -> None:
    with pytest.raises(EnvelopeError) as caught:
        decode_envelope(raw, topic="incoming/data/x")

    message = str(caught.value)
    assert message.startswith("MQTT message on 'incoming/data/x': ")
    assert expected in message
    assert "\n" not in message
    assert isinstance(caught.value, ProductError)
    assert isinstance(caught.value, ValueError)
