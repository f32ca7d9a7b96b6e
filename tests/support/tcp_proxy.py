"""A TCP proxy on 127.0.0.1 that can go silent, as a stalled network path does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from tests.support.servers import free_port


@dataclass
class StallingProxy:
    """Forwards connections to ``target_port``; ``stall()`` silences the open ones."""

    target_port: int
    port: int = field(default_factory=free_port)
    stalled: set[asyncio.StreamWriter] = field(default_factory=set)
    _open: set[asyncio.StreamWriter] = field(default_factory=set)

    def stall(self) -> None:
        """From now on, nothing more passes on the connections open now (none are closed)."""
        self.stalled |= self._open

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Connect to the target and pass bytes both ways until either side closes."""
        upstream_reader, upstream_writer = await asyncio.open_connection(
            "127.0.0.1", self.target_port
        )
        self._open.add(writer)
        await asyncio.gather(
            self._pipe(reader, upstream_writer, writer),
            self._pipe(upstream_reader, writer, writer),
        )

    async def _pipe(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, client: asyncio.StreamWriter
    ) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                if client in self.stalled:
                    continue  # swallowed: the peer hears nothing, and no error either
                sink.write(data)
                await sink.drain()
        sink.close()


@contextlib.asynccontextmanager
async def stalling_proxy(target_port: int) -> AsyncIterator[StallingProxy]:
    """A running proxy to ``target_port``, closed (with its connections) on exit."""
    proxy = StallingProxy(target_port)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", proxy.port)
    try:
        yield proxy
    finally:
        server.close()
        for writer in proxy._open:
            writer.close()
        await server.wait_closed()
