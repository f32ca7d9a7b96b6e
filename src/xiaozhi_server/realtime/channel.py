"""How frames reach one client: the ``Channel`` the fan-out writes to.

``serve`` runs the feed on ``direct.FeedWebSocketProtocol``, whose channel writes frames
straight to the socket. Under any other ASGI server the feed falls back to ``AsgiChannel``,
which sends through the ASGI interface, one frame at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Protocol

from starlette.websockets import WebSocket, WebSocketDisconnect

from xiaozhi_server.realtime.frames import Frame


def _nothing() -> None:
    return None


class Channel(Protocol):
    """A client's connection as the fan-out sees it."""

    on_writable: Callable[[], None]
    # True when nothing is still being written: the next frame leaves at once
    writable: bool

    @property
    def open(self) -> bool:
        """False once the connection is closing or gone."""
        ...

    def write(self, frame: Frame) -> None:
        """Send ``frame`` (call only when ``writable``); ``on_writable`` fires once it left."""
        ...

    async def wait_writable(self) -> bool:
        """Wait until ``writable``; False if the connection closed meanwhile."""
        ...

    def close(self, code: int, reason: str, grace: float) -> None:
        """Close now with ``code``, even while frames are still being written; a peer that
        does not read the close within ``grace`` seconds is dropped."""
        ...

    def release(self) -> None:
        """The session is over: stop whatever the channel does for it."""
        ...


class AsgiChannel:
    """Frames sent through the ASGI ``send``, by a task of this connection's own."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self._next: Frame | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._wake = asyncio.Event()
        self._open = True
        self.on_writable: Callable[[], None] = _nothing
        self.writable = True  # no frame is waiting to be sent
        self._task = asyncio.create_task(self._send_forever(), name="feed-asgi-channel")

    @property
    def open(self) -> bool:
        """False once closed or disconnected."""
        return self._open

    def write(self, frame: Frame) -> None:
        """Hand ``frame`` to the sending task."""
        self._next = frame
        self.writable = False
        self._idle.clear()
        self._wake.set()

    async def wait_writable(self) -> bool:
        """Wait until the last frame has been sent."""
        while self._open and not self._idle.is_set():
            await self._idle.wait()
        return self._open

    def close(self, code: int, reason: str, grace: float) -> None:
        """Stop sending frames and close the connection (waiting at most ``grace``)."""
        if not self._open:
            return
        self._open = self.writable = False
        self._task.cancel()
        self._idle.set()
        self._task = asyncio.create_task(self._close(code, reason, grace))

    def release(self) -> None:
        """Stop the sending task (a close under way finishes)."""
        self.on_writable = _nothing
        if self._open:
            self._open = self.writable = False
            self._idle.set()
            self._task.cancel()

    async def _close(self, code: int, reason: str, grace: float) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._websocket.close(code, reason), grace)

    async def _send_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            frame, self._next = self._next, None
            if frame is None:
                continue
            try:
                await self._websocket.send_text(frame.text)
            except (WebSocketDisconnect, RuntimeError, OSError):
                self._open = self.writable = False
                self._idle.set()
                return
            self.writable = True
            self._idle.set()
            self.on_writable()
