"""uvicorn's WebSocket protocol with a direct path for the feed's frames.

Through ASGI every frame costs a chain of coroutine calls (Starlette, each middleware,
uvicorn) and is framed again for every client; and a client that stopped reading cannot
even be sent a close frame, because ASGI ``send`` waits until its buffer drains. This
protocol offers the feed a ``DirectChannel`` as the ASGI extension ``xiaozhi.direct``:
frames built once are written straight to the socket, "still being written" is exactly
"the socket has not taken the last frame yet", and a stalled client can be closed at once.
The handshake, the client's messages and pings stay uvicorn's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from xiaozhi_server.realtime.frames import Frame

EXTENSION = "xiaozhi.direct"
SEND_BUFFER = 64 * 1024  # Linux doubles it for its bookkeeping: 128 KiB


def _nothing() -> None:
    return None


class FeedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol, offering ``DirectChannel`` to the app."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.direct = DirectChannel(self)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:  # None: the handshake was refused
            scope["extensions"][EXTENSION] = self.direct

    def pause_writing(self) -> None:
        super().pause_writing()
        self.direct.writable = False

    def resume_writing(self) -> None:
        super().resume_writing()
        self.direct.writable = self.direct.open
        self.direct.wake()

    def handle_close(self, event: Any) -> None:
        super().handle_close(event)
        self.direct.writable = False

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.direct.writable = False
        self.direct.wake()

    def close_now(self, code: int, reason: str, grace: float) -> None:
        """Send a close frame behind whatever is buffered, and let the app know."""
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # A peer that reads again finds the code and answers; one that never does is dropped,
        # buffer and all (closing would wait for it to read for ever).
        self.close_timer = self.loop.call_later(grace, self.transport.abort)
        self.direct.writable = False
        self.direct.wake()


class DirectChannel:
    """Frames written straight to one client's socket."""

    def __init__(self, protocol: FeedWebSocketProtocol) -> None:
        self._protocol = protocol
        self._waiters: list[asyncio.Future[None]] = []
        self.on_writable: Callable[[], None] = _nothing
        # True when the socket has taken every frame written so far (kept up to date by the
        # protocol: a plain attribute, read once per client per event).
        self.writable = True

    def claim(self) -> None:
        """Count a frame as written once the socket took all of it (no buffering here), and
        let the kernel hold at most ``SEND_BUFFER`` bytes for a client that stopped reading
        (Linux would let it grow to 4 MiB: a stalled client would go unnoticed for minutes)."""
        transport = self._protocol.transport
        transport.set_write_buffer_limits(high=0)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)

    @property
    def open(self) -> bool:
        """False once closing or disconnected."""
        protocol = self._protocol
        return not (protocol.close_sent or protocol.disconnected or protocol.transport.is_closing())

    def write(self, frame: Frame) -> None:
        """Write ``frame``'s bytes (shared with every client that gets the same frame)."""
        try:
            self._protocol.transport.write(frame.wire)
        except RuntimeError:  # the transport is closed: the session ends on its own
            self.writable = False

    async def wait_writable(self) -> bool:
        """Wait until the socket took every frame; False if the connection closed."""
        while self.open and not self._protocol.writable.is_set():
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter
        return self.open

    def wake(self) -> None:
        """The socket took everything, or the connection closed: whoever waits may go on."""
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        self.on_writable()

    def close(self, code: int, reason: str, grace: float) -> None:
        """Close now with ``code``; drop the peer if it has not read it after ``grace``."""
        self._protocol.close_now(code, reason, grace)

    def release(self) -> None:
        """Nothing to stop: uvicorn closes the connection when the session returns."""
        self.on_writable = _nothing


def direct_channel(scope: Mapping[str, Any]) -> DirectChannel | None:
    """The direct channel the server offers for this connection, if it offers one."""
    channel = scope.get("extensions", {}).get(EXTENSION)
    return channel if isinstance(channel, DirectChannel) else None
