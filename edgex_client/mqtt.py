"""Watch the EdgeX message bus (or any MQTT broker) from a test.

The flow is subscribe first, then trigger, then wait: `MqttWatcher.subscribe`
returns only after the broker's SUBACK, so nothing published afterwards is
missed, and `MqttWatcher.expect` waits for the first matching message.

Every watcher gets a random client ID. A broker drops the older of two clients
with the same ID, and EdgeX services are sensitive to that (device-mqtt's two
clients both connecting as ``device-mqtt`` break its bootstrap), so a watcher
must never borrow an EdgeX client ID.
"""

from __future__ import annotations

import logging
import queue
import secrets
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edgex_client.envelope import Envelope, EnvelopeError, decode_envelope, produced_since
from harness.errors import BrokerError, EventTimeoutError, PreflightError

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
CLIENT_ID_SUFFIX_BYTES = 4


@dataclass(frozen=True)
class Message:
    """One MQTT message as the watcher received it.

    Attributes:
        topic: The topic it was published on.
        payload: The raw payload bytes.
        received_at: ``time.monotonic()`` when it arrived, for latency checks.
        retained: The broker replayed it from its store on subscribe: it says nothing about now.
    """

    topic: str
    payload: bytes
    received_at: float
    retained: bool = False

    def envelope(self) -> Envelope:
        """Decode the payload as an EdgeX MessageEnvelope.

        Raises:
            EnvelopeError: The payload is not an EdgeX envelope, payload or event.
        """
        return decode_envelope(self.payload, topic=self.topic)


def fresh_event(
    since_ns: int, matches: Callable[[dict[str, Any]], bool] = lambda _e: True
) -> Callable[[Message], bool]:
    """Return a predicate for `MqttWatcher.expect`: an EdgeX event produced at or after `since_ns`.

    A retained message, a message that carries no event, and an event whose ``origin`` is older than
    `since_ns` (see `produced_since`) never match, so an event left over from an earlier run cannot
    stand in for one of this run. `matches` narrows it further (by device, resource, value).
    """

    def predicate(message: Message) -> bool:
        if message.retained:
            return False
        event = message.envelope().event
        return event is not None and produced_since(event, since_ns) and matches(event)

    return predicate


def event_from_device(device: str) -> Callable[[Message], bool]:
    """Return a predicate for `MqttWatcher.expect` matching events of `device`.

    It checks the event's own ``deviceName``, which EdgeX always sends (unlike
    the per-reading one).
    """

    def matches(message: Message) -> bool:
        event = message.envelope().event
        return event is not None and event.get("deviceName") == device

    return matches


@dataclass(frozen=True)
class _ConnectionLost:
    reason: str


class MqttWatcher:
    """A context-managed MQTT client that subscribes, publishes and waits for messages.

    Args:
        host: Broker host.
        port: Broker port.
        client_id_prefix: Start of the client ID; a random suffix is appended.
        username: Broker user, if the broker needs credentials.
        password: Its password; never logged.
        ca_path: CA bundle to verify the broker's TLS certificate; None for plain TCP.
        connect_timeout_s: Bound on the TCP/TLS connect and on the wait for CONNACK.
        server_name: The name the broker's certificate must carry, whatever address `host` is
            (a deployment's gateway certificate names the gateway, not every address a client
            may use); `host` when None. The chain is verified against `ca_path` either way.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        client_id_prefix: str = "edgex-smoke",
        username: str | None = None,
        password: str | None = None,
        ca_path: str | None = None,
        connect_timeout_s: float = 10,
        server_name: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.client_id = f"{client_id_prefix}-{secrets.token_hex(CLIENT_ID_SUFFIX_BYTES)}"
        self.connect_timeout_s = connect_timeout_s
        self.topic_filters: list[str] = []
        self._username = username
        self._password = password
        self._ca_path = ca_path
        self._server_name = server_name
        self._messages: queue.Queue[Message | _ConnectionLost] = queue.Queue()
        self._state = threading.Condition()
        self._connack: ReasonCode | None = None
        self._lost_reason: str | None = None
        self._subacks: dict[int, list[ReasonCode]] = {}
        self._closing = False
        self._receiver: Callable[[Message | None], None] | None = None
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.client_id,
            reconnect_on_failure=False,
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message

    @property
    def _where(self) -> str:
        return f"mqtt broker {self.host}:{self.port}"

    @property
    def lost_reason(self) -> str | None:
        """Why the broker dropped the connection; None while it holds (or after a `close`)."""
        with self._state:
            return self._lost_reason

    def deliver_to(self, receiver: Callable[[Message | None], None]) -> None:
        """Hand every later message to `receiver` instead of queueing it for `expect`.

        `receiver` runs in paho's network thread and must not block; a lost connection is handed
        over as None (`lost_reason` says why).
        """
        with self._state:
            self._receiver = receiver

    # -- lifecycle -----------------------------------------------------------------------------

    def __enter__(self) -> MqttWatcher:
        self.connect()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def connect(self) -> None:
        """Connect and wait for the broker's CONNACK.

        Raises:
            PreflightError: `ca_path` does not exist.
            BrokerError: The broker is unreachable, refuses the connection or the
                credentials, or sends no CONNACK within ``connect_timeout_s``.
        """
        if self._ca_path is not None:
            if not Path(self._ca_path).is_file():
                raise PreflightError(
                    f"{self._where}: CA bundle {self._ca_path!r} does not exist; "
                    "pass ca_path=<the broker's CA certificate>"
                )
            self._client.tls_set(ca_certs=self._ca_path)
            if self._server_name is not None:
                # The chain is still verified; the certificate's name is checked below, against server_name.
                self._client.tls_insecure_set(True)
        if self._username is not None:
            self._client.username_pw_set(self._username, self._password)
        self._client.connect_timeout = self.connect_timeout_s
        log.debug("connecting to %s as %s", self._where, self.client_id)
        try:
            self._client.connect(self.host, self.port, keepalive=KEEPALIVE_S)
        except OSError as exc:
            _close_sockets_of(exc)
            raise BrokerError(self._connect_failure_message(exc)) from exc
        self._client.loop_start()
        with self._state:
            answered = self._state.wait_for(
                lambda: self._connack is not None or self._lost_reason is not None, timeout=self.connect_timeout_s
            )
            connack, lost_reason = self._connack, self._lost_reason
        if not answered or connack is None or connack.is_failure:
            self._stop()
            if not answered:
                problem = f"sent no CONNACK within {self.connect_timeout_s:g} s"
                fix = "is this port an MQTT listener (not TLS, not a gateway HTTP port)?"
            elif connack is None:
                problem = f"closed the connection before CONNACK ({lost_reason})"
                fix = "check the broker log; a TLS listener needs ca_path"
            else:
                problem = f"refused client {self.client_id}: {connack}"
                fix = _connack_fix(connack)
            raise BrokerError(f"{self._where} {problem}; {fix}")
        if self._server_name is not None:
            self._check_server_name(self._server_name)

    def _check_server_name(self, name: str) -> None:
        sock = self._client.socket()
        certificate = sock.getpeercert() if isinstance(sock, ssl.SSLSocket) else None
        entries: Any = (certificate or {}).get("subjectAltName", ())
        names = [str(value) for kind, value in entries if kind == "DNS"]
        if name not in names:
            self._stop()
            raise BrokerError(
                f"{self._where}: the TLS certificate names {', '.join(names) or 'nothing'}, not {name!r}; "
                "is this the deployment's gateway?"
            )

    def close(self) -> None:
        """Disconnect and stop the network thread; safe to call twice."""
        with self._state:
            if self._closing:
                return
            self._closing = True
        self._client.disconnect()
        self._stop()

    def _stop(self) -> None:
        self._closing = True
        self._client.loop_stop()

    # -- operations ----------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, timeout_s: float = 10.0, *, qos: int = 1) -> None:
        """Subscribe to `topic_filter` and return once the broker has acknowledged it.

        Args:
            topic_filter: An MQTT filter; ``+`` and ``#`` wildcards allowed.
            timeout_s: Bound on the wait for SUBACK.
            qos: Requested QoS.

        Raises:
            BrokerError: Not connected, the broker refused the filter, or no SUBACK in time.
        """
        result, mid = self._client.subscribe(topic_filter, qos=qos)
        if result != mqtt.MQTT_ERR_SUCCESS or mid is None:
            raise BrokerError(
                f"{self._where}: could not send SUBSCRIBE {topic_filter!r}: {mqtt.error_string(result)}; "
                "is the watcher still connected?"
            )
        with self._state:
            acknowledged = self._state.wait_for(
                lambda: mid in self._subacks or self._lost_reason is not None, timeout=timeout_s
            )
            codes = self._subacks.pop(mid, None)
            lost_reason = self._lost_reason
        if codes is None:
            if acknowledged:
                raise BrokerError(
                    f"{self._where}: connection lost ({lost_reason}) before SUBACK for {topic_filter!r}; "
                    "check the broker log"
                )
            raise BrokerError(
                f"{self._where}: no SUBACK for {topic_filter!r} within {timeout_s:g} s; check the broker log"
            )
        refused = [code for code in codes if code.is_failure]
        if refused:
            raise BrokerError(
                f"{self._where}: refused subscription {topic_filter!r}: {refused[0]}; "
                "check the filter and the broker ACL for this user"
            )
        self.topic_filters.append(topic_filter)
        log.debug("subscribed to %r on %s", topic_filter, self._where)

    def publish(
        self, topic: str, payload: bytes | str, qos: int = 1, *, retain: bool = False, timeout_s: float = 10.0
    ) -> None:
        """Publish `payload` to `topic` and wait until it is sent (QoS 0) or acknowledged (QoS 1 and 2).

        `retain` asks the broker to keep it and replay it to every later subscriber.

        Raises:
            BrokerError: Not connected, or the publish did not complete within `timeout_s`.
        """
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        try:
            info.wait_for_publish(timeout=timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise BrokerError(
                f"{self._where}: publish to {topic!r} failed: {exc}; is the watcher still connected?"
            ) from exc
        if not info.is_published():
            raise BrokerError(
                f"{self._where}: publish to {topic!r} (QoS {qos}) not completed within {timeout_s:g} s; "
                "check the broker log"
            )

    def expect(self, predicate: Callable[[Message], bool], *, timeout_s: float, what: str) -> Message:
        """Wait for the first message that satisfies `predicate`, and return it.

        Messages that arrived since the last `expect` are considered first;
        non-matching messages are discarded. A predicate that raises
        `EnvelopeError` counts as not matching, so wildcard subscriptions may
        carry foreign traffic.

        Args:
            predicate: Called with each message.
            timeout_s: How long to wait.
            what: What is awaited, for the timeout message (``"Random-Integer-Device event"``).

        Raises:
            EventTimeoutError: No matching message within `timeout_s`.
            BrokerError: The broker dropped the connection while waiting.
        """
        deadline = time.monotonic() + timeout_s
        non_matching = 0
        undecodable = 0
        last_topic: str | None = None
        while (remaining_s := deadline - time.monotonic()) > 0:
            try:
                item = self._messages.get(timeout=remaining_s)
            except queue.Empty:
                break
            if isinstance(item, _ConnectionLost):
                self._messages.put(item)  # keep it for later waits: the connection stays lost
                raise BrokerError(
                    f"{self._where}: connection of {self.client_id} lost ({item.reason}) while waiting for {what}; "
                    "did another client connect with the same client ID, or the broker restart?"
                )
            try:
                if predicate(item):
                    return item
            except EnvelopeError:
                undecodable += 1
            non_matching += 1
            last_topic = item.topic
        seen = f"{non_matching} non-matching message(s) seen"
        if undecodable:
            seen += f", {undecodable} not EdgeX envelopes"
        if last_topic is not None:
            seen += f", last on {last_topic!r}"
        filters = ", ".join(repr(topic_filter) for topic_filter in self.topic_filters) or "nothing (call subscribe)"
        raise EventTimeoutError(
            f"{self._where}: no {what} within {timeout_s:g} s on {filters}; {seen}; "
            "check that the trigger happened and that the topic filter matches EdgeX's topics"
        )

    # -- paho callbacks (network thread) -------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._state:
            self._connack = reason_code
            self._state.notify_all()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        with self._state:
            if self._closing:
                return
            self._lost_reason = str(reason_code)
            self._state.notify_all()
        log.warning("%s dropped %s: %s", self._where, self.client_id, reason_code)
        if self._receiver is not None:
            self._receiver(None)
        else:
            self._messages.put(_ConnectionLost(str(reason_code)))

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        with self._state:
            self._subacks[mid] = list(reason_codes)
            self._state.notify_all()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        received = Message(
            topic=message.topic,
            payload=bytes(message.payload),
            received_at=time.monotonic(),
            retained=bool(message.retain),
        )
        if self._receiver is not None:
            self._receiver(received)
        else:
            self._messages.put(received)

    # -- messages ------------------------------------------------------------------------------

    def _connect_failure_message(self, exc: OSError) -> str:
        if isinstance(exc, ConnectionRefusedError):
            return f"{self._where}: connection refused ({exc}); is the broker running and port {self.port} published?"
        if isinstance(exc, TimeoutError):
            return (
                f"{self._where}: no connection within {self.connect_timeout_s:g} s ({exc}); "
                "is the host reachable and the port published?"
            )
        if isinstance(exc, ssl.SSLError):
            return (
                f"{self._where}: TLS handshake failed ({exc}); pass ca_path=<the CA that signed the broker "
                "certificate> and use the broker's TLS port"
            )
        return f"{self._where}: cannot connect ({type(exc).__name__}: {exc}); check the host name and port"


def _close_sockets_of(exc: BaseException) -> None:
    """Close the sockets the failed connect left in its traceback.

    paho 2.2 does not close the SSL socket when the TLS handshake fails
    (``Client._ssl_wrap_socket`` raises from ``do_handshake()``), so it would leak
    until garbage collection.
    """
    frame_tb = exc.__traceback__
    while frame_tb is not None:
        for value in list(frame_tb.tb_frame.f_locals.values()):
            if isinstance(value, socket.socket):
                value.close()
        frame_tb = frame_tb.tb_next


def _connack_fix(reason: ReasonCode) -> str:
    name = str(reason).lower()
    if "authori" in name or "user name or password" in name:
        return "check username and password; secure EdgeX brokers take the 'message-bus' secret from the secret store"
    if "identifier" in name:
        return "the broker rejected the client ID; use a shorter client_id_prefix"
    return "check the broker log"
