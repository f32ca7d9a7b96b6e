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


__all__ = ["collect", "connect", "feed_url", "messages_in", "next_of", "receive"]
