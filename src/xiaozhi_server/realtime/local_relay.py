"""Events between the worker processes of one ``serve`` when Redis is not configured.

The supervisor runs a ``RelayHub`` on a Unix domain socket; each worker's ``LocalRelay``
connects to it, sends every event published in that worker as one line of JSON (its wire
form, encoded once) and delivers the lines of the other workers to its own bus. The hub
passes lines on without reading them. Only processes of the same user reach the socket
(it lives in a directory only that user can enter).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from xiaozhi_server.ops.metrics import EVENTS_DROPPED
from xiaozhi_server.realtime.bus import Event, EventBus

log = logging.getLogger(__name__)

_LINE_LIMIT = 64 * 1024 * 1024  # one event, content and all, always fits
_RETRY_SECONDS = (0.1, 0.2, 0.5, 1.0)


class RelayHub:
    """The supervisor's side: every line from one worker goes to every other worker."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._workers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on ``path``."""
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=_LINE_LIMIT)

    async def close(self) -> None:
        """Stop listening and drop every worker's connection."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._workers):
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._workers.add(writer)
        try:
            while line := await reader.readline():
                for other in self._workers:
                    if other is not writer and not other.is_closing():
                        other.write(line)
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            log.warning("a worker's relay connection broke")
        finally:
            self._workers.discard(writer)
            writer.close()


class LocalRelay:
    """A worker's side: its events out to the hub, the other workers' events in."""

    def __init__(self, path: str, bus: EventBus) -> None:
        self._path = path
        self._bus = bus
        self._writer: asyncio.StreamWriter | None = None
        self.connected = asyncio.Event()
        bus.forward_to(self._send)

    async def run(self) -> None:
        """Receive until cancelled, reconnecting if the hub goes away."""
        attempt = 0
        while True:
            try:
                await self._receive()
                attempt = 0
            except (OSError, ValueError) as exc:
                log.warning("worker relay unavailable: %s", exc)
            self._writer = None
            self.connected.clear()
            await asyncio.sleep(_RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)])
            attempt += 1

    async def close(self) -> None:
        """Close the connection to the hub."""
        if self._writer is not None:
            self._writer.close()

    async def _receive(self) -> None:
        reader, writer = await asyncio.open_unix_connection(self._path, limit=_LINE_LIMIT)
        self._writer = writer
        self.connected.set()
        try:
            while line := await reader.readline():
                self._deliver(line)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def _deliver(self, line: bytes) -> None:
        try:
            event = Event.from_text(line.decode())
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed event from another worker")
            return
        self._bus.deliver(event)

    def _send(self, event: Event) -> None:
        writer = self._writer
        if writer is None or writer.is_closing():
            EVENTS_DROPPED.inc()
            return
        writer.write(event.to_text().encode() + b"\n")
