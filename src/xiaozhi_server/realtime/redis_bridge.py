"""Events between instances: local events go out on Redis pub/sub, others' come in.

Several instances behind a load balancer share one store; a client connected to instance
B must see a report that instance A accepted. Each instance tags what it sends with its
own id and ignores its own messages coming back. Pub/sub keeps nothing for a subscriber
that is away: after the subscription was lost (Redis restarted, the connection dropped),
``on_gap`` is told where the missing events may begin (gaps.py) and the feed replays them
from the store.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from xiaozhi_server.ops.metrics import EVENTS_DROPPED, UPSTREAM_CALLS
from xiaozhi_server.realtime.bus import Event, EventBus
from xiaozhi_server.realtime.gaps import NOTE_SECONDS, GapTracker, HighestId

log = logging.getLogger(__name__)

CHANNEL = "xiaozhi-server:events"
_OUTBOX_SIZE = 10_000
_RETRY_SECONDS = (0.2, 0.5, 1, 2, 5)


class RedisBridge:
    """Events published on ``bus`` go out through Redis; other instances' come in to it."""

    def __init__(self, url: str, bus: EventBus, highest_id: HighestId | None = None) -> None:
        self.instance = uuid.uuid4().hex
        self._bus = bus
        # No retries inside the client: its pub/sub would reconnect and subscribe again
        # silently, and the events missed meanwhile would go unnoticed.
        self._client = redis.from_url(url, retry=Retry(NoBackoff(), 0))
        self._gaps = GapTracker(highest_id) if highest_id is not None else None
        # Told, once subscribed again, the message id after which events may be missing.
        self.on_gap: Callable[[int], None] | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(_OUTBOX_SIZE)
        self.connected = False
        self.last_error: str | None = None
        bus.forward_to(self._send)

    def publish(self, event: Event) -> None:
        """Deliver ``event`` here now, and to the other instances through Redis."""
        self._bus.publish(event)

    def _send(self, event: Event) -> None:
        wire = json.dumps({"origin": self.instance, "event": event.to_json()}, ensure_ascii=False)
        try:
            self._outbox.put_nowait(wire)
        except asyncio.QueueFull:
            EVENTS_DROPPED.inc()

    async def run(self) -> None:
        """Send and receive until cancelled, reconnecting with backoff."""
        if self._gaps is not None:
            await self._gaps.start()
        await asyncio.gather(self._send_forever(), self._receive_forever(), self._note_forever())

    async def close(self) -> None:
        """Close the Redis connections."""
        await self._client.aclose()

    async def _send_forever(self) -> None:
        while True:
            wire = await self._outbox.get()
            await self._retrying(lambda wire=wire: self._client.publish(CHANNEL, wire))

    async def _receive_forever(self) -> None:
        attempt = 0
        while True:
            try:
                await self._receive()
            except (RedisError, OSError) as exc:
                if self.connected:  # it was up: the next try comes soon again
                    attempt = 0
                if self._gaps is not None:
                    self._gaps.lost()
                self._failed(exc)
                await asyncio.sleep(_RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)])
                attempt += 1

    async def _receive(self) -> None:
        async with self._client.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            self.connected, self.last_error = True, None
            await self._subscribed()
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self._deliver(message["data"])

    async def _subscribed(self) -> None:
        if self._gaps is None:
            return
        gap_from = await self._gaps.subscribed()
        if gap_from is not None and self.on_gap is not None:
            log.info("Redis subscription restored: replaying messages after id %d", gap_from)
            self.on_gap(gap_from)

    async def _note_forever(self) -> None:
        while self._gaps is not None:
            await asyncio.sleep(NOTE_SECONDS)
            if self.connected:
                await self._gaps.note()

    def _deliver(self, raw: bytes) -> None:
        try:
            wire: dict[str, Any] = json.loads(raw)
            if wire["origin"] == self.instance:
                return
            event = wire["event"]
            self._bus.deliver(
                Event(event["type"], event["data"], datetime.fromisoformat(event["timestamp"]))
            )
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed event from Redis")

    async def _retrying(self, action: Any) -> None:
        for attempt, pause in enumerate((*_RETRY_SECONDS, None)):
            try:
                await action()
                UPSTREAM_CALLS.labels("redis", "success").inc()
                return
            except (RedisError, OSError) as exc:
                self._failed(exc)
                if pause is None:
                    EVENTS_DROPPED.inc()
                    log.error("event dropped after %d attempts to reach Redis", attempt + 1)
                    return
                await asyncio.sleep(pause)

    def _failed(self, exc: Exception) -> None:
        self.connected = False
        self.last_error = f"{type(exc).__name__}: {exc}"
        UPSTREAM_CALLS.labels("redis", "failure").inc()
        log.warning("Redis unavailable: %s", self.last_error)
