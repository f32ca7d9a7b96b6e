"""The in-process event bus: ingest publishes after commit, subscribers read at their pace.

Publishing never waits. Each subscriber has a bounded queue; one that falls behind is
closed with a reason instead of slowing ingest or other subscribers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from xiaozhi_server.ops.metrics import EVENTS_DROPPED, EVENTS_PUBLISHED

EventFilter = Callable[["Event"], bool]


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


class Subscription:
    """One reader's bounded queue of events."""

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
        self._bus.remove(self)
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
    """Fan-out of events to every subscription in this process."""

    def __init__(self) -> None:
        self._subscriptions: set[Subscription] = set()
        self.published = 0
        self.dropped = 0

    def subscribe(self, maxsize: int = 1000, accept: EventFilter | None = None) -> Subscription:
        """A new subscription that sees every event published from now on."""
        subscription = Subscription(self, maxsize, accept)
        self._subscriptions.add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        """Forget ``subscription`` (it closes itself through this)."""
        self._subscriptions.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscriptions)

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscription without waiting."""
        self.published += 1
        EVENTS_PUBLISHED.inc()
        for subscription in list(self._subscriptions):
            if not subscription.offer(event):
                self.dropped += 1
                EVENTS_DROPPED.inc()
