"""Events between instances: local events go out on Redis pub/sub, others' come in.

Several instances behind a load balancer share one store; a client connected to instance
B must see a report that instance A accepted. Each instance tags what it sends with its
own id and ignores its own messages coming back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from datetime import datetime
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError

from xiaozhi_server.ops.metrics import EVENTS_DROPPED, UPSTREAM_CALLS
from xiaozhi_server.realtime.bus import Event, EventBus

log = logging.getLogger(__name__)

CHANNEL = "xiaozhi-server:events"
_OUTBOX_SIZE = 10_000
_RETRY_SECONDS = (0.2, 0.5, 1, 2, 5)


class RedisBridge:
    """Events published on ``bus`` go out through Redis; other instances' come in to it."""

    def __init__(self, url: str, bus: EventBus) -> None:
        self.instance = uuid.uuid4().hex
        self._bus = bus
        self._client = redis.from_url(url)
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
        await asyncio.gather(self._send_forever(), self._receive_forever())

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
                self._failed(exc)
                await asyncio.sleep(_RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)])
                attempt += 1

    async def _receive(self) -> None:
        async with self._client.pubsub() as pubsub:
            await pubsub.subscribe(CHANNEL)
            self.connected, self.last_error = True, None
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    self._deliver(message["data"])

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
