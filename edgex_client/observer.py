"""One subscription to the EdgeX bus for a whole run, kept so that every check can ask it.

A check that waits for its own subscription waits for the next autoevent after it subscribed, so
checks that each subscribe wait one after another. A `BusObserver` subscribes once, as early as
the gateway's MQTT route answers, and keeps every message: a check asks for the first message
that matches, among those already seen or those still to come. Freshness stays the checks'
business (`fresh_event` with their own start time): what the observer keeps is only evidence.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from edgex_client.envelope import EnvelopeError
from edgex_client.mqtt import Message, MqttWatcher
from harness.errors import BrokerError, EventTimeoutError, SmokeError

EVENTS_TOPIC = "edgex/events/#"
PROGRESS_EVERY_S = 1.0
"""How often a wait reports what it is waiting for, so a long wait never looks like a hang."""

Predicate = Callable[[Message], bool]
Progress = Callable[[str, float], None]
"""Called as ``progress(what, waited_s)`` while a wait goes on."""


class BusObserver:
    """Every message on the EdgeX event topics since `start`, for checks that run one after another.

    Args:
        watcher: An unconnected watcher on the gateway's MQTT route; the observer owns it from now on.
        topic_filter: What to keep.
    """

    def __init__(self, watcher: MqttWatcher, topic_filter: str = EVENTS_TOPIC) -> None:
        self.watcher = watcher
        self.topic_filter = topic_filter
        self.started_ns = 0
        """``time.time_ns()`` just before the subscription: events produced earlier are not this run's news."""
        self.started_at = 0.0
        """``time.monotonic()`` at the same moment."""
        self.progress: Progress | None = None
        self._seen: list[Message] = []
        self._changed = threading.Condition()
        self._lost = False
        self._failure: SmokeError | None = None

    def start(self) -> None:
        """Connect and subscribe; a failure is kept, and every later `wait` raises it.

        The run goes on without the observer: the checks that need the bus then fail with the
        broker's own one-line reason, and the others still run.
        """
        self.started_ns, self.started_at = time.time_ns(), time.monotonic()
        try:
            self.watcher.deliver_to(self._receive)
            self.watcher.connect()
            self.watcher.subscribe(self.topic_filter)
        except SmokeError as err:
            self._failure = err

    def close(self) -> None:
        """Disconnect; safe to call twice and after a failed `start`."""
        self.watcher.close()

    @property
    def failure(self) -> SmokeError | None:
        """Why the observer does not observe; None while it does."""
        return self._failure

    def publish(self, topic: str, payload: str) -> None:
        """Publish `payload` to `topic` through the observer's own connection (QoS 1, acknowledged)."""
        if self._failure is not None:
            raise self._failure
        self.watcher.publish(topic, payload)

    def first(self, predicate: Predicate) -> Message | None:
        """The first message seen so far that satisfies `predicate`; None if there is none yet."""
        with self._changed:
            seen = list(self._seen)
        return next((message for message in seen if _matches(predicate, message)), None)

    def wait(self, predicate: Predicate, *, timeout_s: float, what: str) -> Message:
        """The first message, seen or still to come, that satisfies `predicate`.

        A predicate that raises `EnvelopeError` counts as not matching: the filter carries every
        EdgeX topic, so most messages belong to other checks.

        Raises:
            EventTimeoutError: None matched within `timeout_s`; the message says how many were seen.
            BrokerError: The observer never started, or the broker dropped it.
        """
        if self._failure is not None:
            raise self._failure
        started = time.monotonic()
        deadline = started + timeout_s
        checked = 0
        while True:
            with self._changed:
                fresh = self._seen[checked:]
                lost = self._lost
            for message in fresh:
                if _matches(predicate, message):
                    return message
            checked += len(fresh)
            if lost:
                raise BrokerError(
                    f"{self.watcher.host}:{self.watcher.port}: the broker dropped the run's bus observer "
                    f"({self.watcher.lost_reason}) while waiting for {what}; check the broker and gateway logs"
                )
            now = time.monotonic()
            if now >= deadline:
                break
            if self.progress is not None:
                self.progress(what, now - started)
            with self._changed:
                if len(self._seen) == checked and not self._lost:
                    self._changed.wait(min(PROGRESS_EVERY_S, deadline - now))
        raise EventTimeoutError(
            f"mqtt broker {self.watcher.host}:{self.watcher.port}: no {what} within {timeout_s:g} s on "
            f"{self.topic_filter!r}; {checked} other message(s) seen since the run subscribed"
        )

    def _receive(self, message: Message | None) -> None:
        with self._changed:
            if message is None:
                self._lost = True
            else:
                self._seen.append(message)
            self._changed.notify_all()


def _matches(predicate: Predicate, message: Message) -> bool:
    try:
        return predicate(message)
    except EnvelopeError:
        return False
