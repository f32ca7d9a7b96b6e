"""The in-process event bus: ingest publishes after commit, readers take them at their pace.

Publishing never waits. Every reader (a ``Subscription`` with its bounded queue, or the
WebSocket fan-out) is a sink that takes an event without blocking; one that falls behind
is closed with a reason instead of slowing ingest or other readers. Events published here
also go to the forwarders (Redis, or the other worker processes of this ``serve``); events
arriving from those are ``deliver``-ed here only, so nothing loops.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Protocol

from xiaozhi_server.ops.metrics import EVENTS_DROPPED, EVENTS_PUBLISHED

EventFilter = Callable[["Event"], bool]
Forwarder = Callable[["Event"], None]


@dataclass(frozen=True, slots=True)
class Event:
    """Something that changed in the store: ``chat_update``, ``session_update``, ..."""

    type: str
    data: dict[str, Any]
    timestamp: datetime = field(default_factory=lambda: datetime.now(UTC))
    _text: list[str] = field(default_factory=list, compare=False, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The wire form: ``{"type", "data", "timestamp"}`` with ISO-8601 UTC times."""
        return {"type": self.type, "data": jsonable(self.data), "timestamp": iso(self.timestamp)}

    def to_text(self) -> str:
        """The wire form as JSON text, encoded once however many clients receive it."""
        if not self._text:
            self._text.append(json.dumps(self.to_json(), ensure_ascii=False))
        return self._text[0]

    @classmethod
    def from_text(cls, text: str) -> Event:
        """The event whose wire form is ``text`` (from another process), keeping that text.

        Raise ValueError, KeyError or TypeError if ``text`` is not an event's wire form.
        """
        wire = json.loads(text)
        event = cls(wire["type"], wire["data"], datetime.fromisoformat(wire["timestamp"]))
        if not isinstance(event.type, str) or not isinstance(event.data, dict):
            raise TypeError("not an event")
        event._text.append(text)
        return event


def iso(moment: datetime) -> str:
    """ISO-8601 with milliseconds and the zone, e.g. 2026-11-24T22:32:27.123+00:00."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO strings and bytes left out, ready for json.dumps."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items() if not isinstance(v, bytes)}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


class Sink(Protocol):
    """A reader of the bus: takes each event at once, never waits."""

    def offer(self, event: Event) -> bool:
        """Take ``event``; False if this reader fell behind and was closed."""
        ...


class Subscription:
    """One in-process reader's bounded queue of events."""

    def __init__(self, bus: EventBus, maxsize: int, accept: EventFilter | None) -> None:
        self._bus = bus
        self._queue: asyncio.Queue[Event | None] = asyncio.Queue(maxsize)
        self._accept = accept
        self.closed_reason: str | None = None

    def offer(self, event: Event) -> bool:
        """Queue ``event`` if it passes the filter; False if the reader fell behind."""
        if self.closed_reason is not None or (self._accept and not self._accept(event)):
            return True
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.close("too slow: event queue full")
            return False
        return True

    def close(self, reason: str = "closed") -> None:
        """Stop receiving; a waiting reader wakes up and the iteration ends."""
        if self.closed_reason is not None:
            return
        self.closed_reason = reason
        self._bus.detach(self)
        while True:
            try:
                self._queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._events()

    async def _events(self) -> AsyncIterator[Event]:
        while (event := await self._queue.get()) is not None:
            yield event


class EventBus:
    """Fan-out of events to every reader in this process, and out to the forwarders."""

    def __init__(self) -> None:
        self._sinks: list[Sink] = []
        self._forwarders: list[Forwarder] = []
        self.published = 0
        self.dropped = 0

    def subscribe(self, maxsize: int = 1000, accept: EventFilter | None = None) -> Subscription:
        """A new subscription that sees every event published from now on."""
        subscription = Subscription(self, maxsize, accept)
        self.attach(subscription)
        return subscription

    def attach(self, sink: Sink) -> None:
        """Hand every event from now on to ``sink`` as well."""
        self._sinks.append(sink)

    def detach(self, sink: Sink) -> None:
        """Forget ``sink`` (a subscription closes itself through this)."""
        if sink in self._sinks:
            self._sinks.remove(sink)

    def forward_to(self, forwarder: Forwarder) -> None:
        """Also hand each event published here (not those delivered) to ``forwarder``."""
        self._forwarders.append(forwarder)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return sum(isinstance(sink, Subscription) for sink in self._sinks)

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every reader here and to every forwarder, without waiting."""
        self.deliver(event)
        for forward in self._forwarders:
            forward(event)

    def deliver(self, event: Event) -> None:
        """Hand ``event`` (from here or from elsewhere) to every reader in this process."""
        self.published += 1
        EVENTS_PUBLISHED.inc()
        for sink in list(self._sinks):
            if not sink.offer(event):
                self.dropped += 1
                EVENTS_DROPPED.inc()
