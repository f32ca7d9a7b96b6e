"""A WebSocket feed client for tests, on the websockets library."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection, connect


def feed_url(base_url: str, token: str | None = "test-token") -> str:
    """The /ws/admin URL of an app, with an API token unless ``token`` is None."""
    url = base_url.replace("http://", "ws://") + "/ws/admin"
    return f"{url}?token={token}" if token else url


async def next_of(connection: ClientConnection, kind: str, within: float = 5.0) -> dict[str, Any]:
    """The next message of type ``kind`` (others are skipped)."""
    async with asyncio.timeout(within):
        while True:
            message: dict[str, Any] = json.loads(await connection.recv())
            if message["type"] == kind:
                return message


async def collect(
    connection: ClientConnection, kind: str, quiet: float = 0.5
) -> list[dict[str, Any]]:
    """Every ``kind`` message until the feed has been quiet for ``quiet`` seconds."""
    found: list[dict[str, Any]] = []
    while True:
        try:
            message = json.loads(await asyncio.wait_for(connection.recv(), quiet))
        except TimeoutError:
            return found
        if message["type"] == kind:
            found.append(message)


__all__ = ["collect", "connect", "feed_url", "next_of"]
