"""A feed client that stops reading, as a frozen browser tab or a dead wall display does.

It opens ``/ws/admin`` on a plain socket with a small receive buffer and the websockets
library's sans-I/O protocol, may send commands, and reads nothing until ``read_all``, which
takes in whatever the server managed to send: the messages, then the close code.
"""

from __future__ import annotations

import asyncio
import socket
from urllib.parse import urlsplit

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.uri import parse_uri

from tests.support.feed_client import Message, messages_in

_RECEIVE_BUFFER = 4096


class StalledClient:
    """One connection to the feed that reads only when asked to."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._protocol = ClientProtocol(parse_uri(url))
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Small, so the server's buffers fill after a few frames, not after megabytes.
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
        self._socket.setblocking(False)
        self._texts: list[str] = []
        self.close_code: int | None = None
        self.close_reason = ""

    async def open(self) -> None:
        """Connect and read up to the ``welcome``: from then on every event is meant for it."""
        parts = urlsplit(self._url)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(self._socket, (parts.hostname, parts.port))
        self._protocol.send_request(self._protocol.connect())
        await self._flush()
        while self._protocol.handshake_exc is None and not self._texts:
            data = await loop.sock_recv(self._socket, 1024)
            if not data:
                raise ConnectionError("the feed closed before its welcome")
            self._take(data)
        if self._protocol.handshake_exc is not None:
            raise self._protocol.handshake_exc

    @property
    def frames(self) -> list[str]:
        """The text frames read so far, as they came."""
        return list(self._texts)

    async def send(self, text: str) -> None:
        """Send a command; sending works whether or not the client reads."""
        self._protocol.send_text(text.encode())
        await self._flush()

    async def read_all(self, quiet: float = 3.0) -> list[Message]:
        """Read until the connection closes (or nothing came for ``quiet`` seconds): every
        message the server sent, in order; ``close_code`` tells how it ended."""
        loop = asyncio.get_running_loop()
        while self.close_code is None:
            try:
                data = await asyncio.wait_for(loop.sock_recv(self._socket, 65536), quiet)
            except (TimeoutError, ConnectionError):
                break
            if not data:
                break
            self._take(data)
            await self._flush()
        return [message for text in self._texts for message in messages_in(text)]

    def close(self) -> None:
        """Drop the socket."""
        self._socket.close()

    def _take(self, data: bytes) -> None:
        self._protocol.receive_data(data)
        for event in self._protocol.events_received():
            if isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self._texts.append(bytes(event.data).decode())
        closed = self._protocol.close_rcvd
        if closed is not None:
            self.close_code, self.close_reason = closed.code, closed.reason

    async def _flush(self) -> None:
        data = b"".join(self._protocol.data_to_send())
        if data:
            await asyncio.get_running_loop().sock_sendall(self._socket, data)
