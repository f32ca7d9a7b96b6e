"""A WebSocket feed client for tests, on the websockets library.

A frame holds one message, or several as ``{"type":"batch","events":[...]}``: ``receive``,
``next_of`` and ``collect`` hand out messages one by one either way.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any
from weakref import WeakKeyDictionary

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

Message = dict[str, Any]
_unread: WeakKeyDictionary[ClientConnection, deque[Message]] = WeakKeyDictionary()


def feed_url(base_url: str, token: str | None = "test-token") -> str:
    """The /ws/admin URL of an app, with an API token unless ``token`` is None."""
    url = base_url.replace("http://", "ws://") + "/ws/admin"
    return f"{url}?token={token}" if token else url


def messages_in(frame: str | bytes) -> list[Message]:
    """The messages one frame carries: itself, or the events of a batch."""
    message: Message = json.loads(frame)
    if message["type"] == "batch":
        events: list[Message] = message["events"]
        return events
    return [message]


async def receive(connection: ClientConnection) -> Message:
    """The next message, whether it came alone or in a batch."""
    unread = _unread.setdefault(connection, deque())
    if not unread:
        unread.extend(messages_in(await connection.recv()))
    return unread.popleft()


async def next_of(connection: ClientConnection, kind: str, within: float = 5.0) -> Message:
    """The next message of type ``kind`` (others are skipped)."""
    async with asyncio.timeout(within):
        while True:
            message = await receive(connection)
            if message["type"] == kind:
                return message


async def collect(connection: ClientConnection, kind: str, quiet: float = 0.5) -> list[Message]:
    """Every ``kind`` message until the feed has been quiet for ``quiet`` seconds."""
    found: list[Message] = []
    while True:
        try:
            message = await asyncio.wait_for(receive(connection), quiet)
        except TimeoutError:
            return found
        if message["type"] == kind:
            found.append(message)


class Watcher:
    """A client that keeps watching the feed as the console does: it notes every
    ``chat_update`` id, and when the connection closes it connects again and resumes from
    the highest id it has seen. ``ids`` is every chat update it received, in order."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.ids: list[int] = []
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None
        self._welcomed = asyncio.Event()
        self._arrived = asyncio.Event()

    async def __aenter__(self) -> Watcher:
        self._task = asyncio.create_task(self._watch())
        async with asyncio.timeout(30):
            await self._welcomed.wait()
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _watch(self) -> None:
        while True:
            try:
                async with connect(self.url) as connection:
                    await self._follow(connection)
            except (OSError, ConnectionClosed):
                pass
            self.reconnects += 1
            await asyncio.sleep(0.2)

    async def _follow(self, connection: ClientConnection) -> None:
        while True:
            message = await receive(connection)
            if message["type"] == "welcome" and self.ids:
                await connection.send(json.dumps({"type": "resume", "since": max(self.ids)}))
            elif message["type"] == "chat_update":
                self.ids.append(message["data"]["id"])
                self._arrived.set()
            self._welcomed.set()

    async def wait_for(self, ids: set[int], within: float = 60.0) -> None:
        """Block until every id in ``ids`` has arrived (fail after ``within`` seconds)."""
        try:
            async with asyncio.timeout(within):
                while not ids <= set(self.ids):
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            missing = sorted(ids - set(self.ids))
            message = f"{self.url}: {len(missing)} never arrived: {missing[:20]}"
            raise AssertionError(message) from None


__all__ = ["Watcher", "collect", "connect", "feed_url", "messages_in", "next_of", "receive"]
