"""The ceiling for the delivery benchmark: a bare ``websockets`` server that broadcasts.

In a process of its own, on uvloop like ``serve``: subscribers connect to ``/``; the
benchmark connects to ``/publish`` and sends ``n`` for each turn, and the server encodes
the same ``chat_update`` a report of ``bench-<n>`` produces, once, and hands it to
``websockets.broadcast`` for every subscriber: one frame per event per subscriber, no
filters, no backlog, no auth, no store. Its CPU time per delivered event is the least a
Python WebSocket server spends on the same frames.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
from datetime import UTC, datetime
from multiprocessing.context import SpawnProcess

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.realtime.payloads import message_payload

BACKLOG = 2048  # as uvicorn's


def chat_update(n: int) -> str:
    """The text of the ``chat_update`` for turn ``bench-<n>``, as the feed encodes it."""
    row = {
        "id": n + 1,
        "device": "a0:85:e3:00:00:01",
        "session_id": "0" * 32,
        "agent_id": None,
        "chat_type": 1,
        "speaker": None,
        "content": f"bench-{n}",
        "audio_id": None,
        "created_at": datetime.now(UTC),
        "source": "push",
    }
    return Event("chat_update", message_payload(row)).to_text()


def run(listener: socket.socket) -> None:
    """Serve on ``listener`` until terminated."""
    uvloop.install()
    asyncio.run(_serve(listener))


async def _serve(listener: socket.socket) -> None:
    subscribers: set[ServerConnection] = set()

    async def handler(connection: ServerConnection) -> None:
        if connection.request is not None and connection.request.path == "/publish":
            async for n in connection:
                broadcast(subscribers, chat_update(int(n)))
            return
        subscribers.add(connection)
        try:
            await connection.send('{"type": "welcome"}')
            await connection.wait_closed()
        finally:
            subscribers.discard(connection)

    async with serve(
        handler, sock=listener, compression=None, max_queue=None, backlog=BACKLOG
    ) as server:
        await server.serve_forever()


def start() -> tuple[SpawnProcess, int]:
    """The server in a process of its own; its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(BACKLOG)  # subscribers may connect before the server runs
    port: int = listener.getsockname()[1]
    process = multiprocessing.get_context("spawn").Process(
        target=run, args=(listener,), name="bare-broadcast", daemon=True
    )
    process.start()
    listener.close()
    return process, port
