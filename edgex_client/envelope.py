"""Decode EdgeX MessageEnvelopes from raw MQTT payload bytes.

The envelope is a JSON object with ``apiVersion``, ``contentType``,
``correlationID``, ``errorCode``, ``payload``, ``receivedTopic`` and
``requestID``. Its ``payload`` changed shape between releases:

* 4.0.x: a JSON object ``{"apiVersion", "requestId", "event": {...}}``
  (``EDGEX_MSG_BASE64_PAYLOAD=false`` is the default);
* 2.x and 3.x: the same JSON, base64-encoded into a string.

A bare payload object, or a bare event, is accepted too. CBOR
(``EDGEX_MSG_CBOR_ENCODE=true``) is not supported and is reported as such.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from harness.errors import ProductError

# Keys only a MessageEnvelope has; an event payload has none of them.
ENVELOPE_ONLY_KEYS = frozenset({"correlationID", "contentType", "receivedTopic", "errorCode", "requestID"})

RAW_PREVIEW_BYTES = 40


class EnvelopeError(ProductError, ValueError):
    """An MQTT payload is not an EdgeX MessageEnvelope that can be decoded."""


@dataclass(frozen=True)
class Envelope:
    """A decoded EdgeX MessageEnvelope.

    Attributes:
        topic: The MQTT topic it arrived on, else its ``receivedTopic``.
        correlation_id: ``correlationID``.
        request_id: ``requestID``.
        content_type: ``contentType`` (``application/json``).
        api_version: ``apiVersion``.
        error_code: ``errorCode`` (0 for success).
        payload: The decoded payload object (``{"apiVersion","requestId","event"}`` for events).
    """

    topic: str
    correlation_id: str
    request_id: str
    content_type: str
    api_version: str
    error_code: int
    payload: dict[str, Any]

    @property
    def event(self) -> dict[str, Any] | None:
        """The EdgeX event the payload carries, or None if it carries none."""
        event = self.payload.get("event")
        return event if isinstance(event, dict) else None


ORIGIN_SKEW_S = 2.0
"""How far an event's origin may lie before the moment it is compared with: the clocks of this host and
of the EdgeX node may disagree a little. A stale event from an earlier run is minutes older than that."""


def produced_since(event: Mapping[str, Any], since_ns: int, *, skew_s: float = ORIGIN_SKEW_S) -> bool:
    """True if `event` was produced at or after `since_ns`, less `skew_s`.

    ``origin`` is nanoseconds since the epoch, set by the device service; an event without an integer
    origin is never fresh.
    """
    origin = event.get("origin")
    if not isinstance(origin, int) or isinstance(origin, bool):
        return False
    return origin >= since_ns - int(skew_s * 1e9)


def decode_envelope(raw: bytes, *, topic: str = "") -> Envelope:
    """Decode one MQTT payload into an `Envelope`.

    Args:
        raw: The MQTT payload bytes.
        topic: The topic the message arrived on, for the envelope and for messages.

    Returns:
        The envelope, with its payload decoded from JSON or base64 JSON.

    Raises:
        EnvelopeError: The bytes are not JSON, or not an envelope, payload or event.
    """
    where = f"MQTT message on {topic!r}" if topic else "MQTT message"
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise EnvelopeError(
            f"{where}: payload is not JSON (starts {raw[:RAW_PREVIEW_BYTES]!r}); EdgeX envelopes are JSON unless "
            "EDGEX_MSG_CBOR_ENCODE=true, which this harness does not decode"
        ) from exc
    if not isinstance(document, dict):
        raise EnvelopeError(
            f"{where}: JSON is a {type(document).__name__}, not an EdgeX MessageEnvelope object; "
            "is this topic published by EdgeX?"
        )
    if "payload" in document and ENVELOPE_ONLY_KEYS & document.keys():
        return _from_envelope(document, topic, where)
    if isinstance(document.get("event"), dict):
        return _bare(document, topic)
    if "readings" in document and "deviceName" in document:
        return _bare({"apiVersion": document.get("apiVersion", ""), "event": document}, topic)
    raise EnvelopeError(
        f"{where}: JSON is neither an EdgeX MessageEnvelope nor an event (keys {sorted(document)[:10]}); "
        "is this topic published by EdgeX?"
    )


def _from_envelope(document: dict[str, Any], topic: str, where: str) -> Envelope:
    content_type = _text(document.get("contentType"))
    error_code = document.get("errorCode") or 0
    return Envelope(
        topic=topic or _text(document.get("receivedTopic")),
        correlation_id=_text(document.get("correlationID")),
        request_id=_text(document.get("requestID")),
        content_type=content_type,
        api_version=_text(document.get("apiVersion")),
        error_code=error_code if isinstance(error_code, int) else 0,
        payload=_decode_payload(document.get("payload"), content_type, where),
    )


def _bare(payload: dict[str, Any], topic: str) -> Envelope:
    return Envelope(
        topic=topic,
        correlation_id="",
        request_id=_text(payload.get("requestId")),
        content_type="application/json",
        api_version=_text(payload.get("apiVersion")),
        error_code=0,
        payload=payload,
    )


def _decode_payload(value: object, content_type: str, where: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise EnvelopeError(
            f"{where}: envelope payload is a {type(value).__name__}; expected a JSON object (4.x) or base64 (2.x/3.x)"
        )
    try:
        decoded = base64.b64decode(value, validate=True)
        inner = json.loads(decoded)
    except (binascii.Error, ValueError) as exc:
        raise EnvelopeError(
            f"{where}: envelope payload ({content_type or 'no contentType'}) is a string but not base64 JSON "
            f"(starts {value[:RAW_PREVIEW_BYTES]!r}); CBOR payloads are not supported"
        ) from exc
    if not isinstance(inner, dict):
        raise EnvelopeError(f"{where}: envelope payload decodes to a {type(inner).__name__}, not a JSON object")
    return inner


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
