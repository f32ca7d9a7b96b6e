"""The store handle: one engine, a write path that is safe for SQLite's single writer."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from xiaozhi_server.store import write_lock
from xiaozhi_server.store.engine import apply_sqlite_pragmas, create_engine, is_sqlite
from xiaozhi_server.store.sqlite_writer import SqliteWriter

T = TypeVar("T")
log = logging.getLogger(__name__)
# A conflict that survives the write lock (another kind of writer, a lock-wait timeout on a
# loaded server) gets a few more tries, each after a longer random pause.
WRITE_ATTEMPTS = 5


class Store:
    """Connections to the hub's own database."""

    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_engine(url)
        sqlite = is_sqlite(self.engine)
        # SQLite allows one writer; queueing here beats failing on "database is locked".
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if sqlite else None
        self._writer = SqliteWriter(url, apply_sqlite_pragmas) if sqlite else None

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for logs and messages."""
        return make_url(self.engine.url).render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """'sqlite', 'mysql' (MariaDB too) or 'postgresql'."""
        return self.engine.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction, committed when the block ends without error."""
        lock: AbstractAsyncContextManager[object] = self._write_lock or nullcontext()
        async with lock, self.engine.begin() as connection:
            yield connection

    async def run_write(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` (synchronous SQL) in one transaction, committed if it returns."""
        if self._writer is None:
            return await self._run_shared_write(work)
        assert self._write_lock is not None
        async with self._write_lock:
            return await self._writer.run(work)

    async def _run_shared_write(self, work: Callable[[Connection], T]) -> T:
        """MariaDB / PostgreSQL: the write turn first, and a fresh try after a conflict."""

        def locked(connection: Connection) -> T:
            write_lock.take(connection)
            return work(connection)

        for attempt in range(1, WRITE_ATTEMPTS + 1):
            try:
                async with self.engine.begin() as connection:
                    return await connection.run_sync(locked)
            except DBAPIError as error:
                if attempt == WRITE_ATTEMPTS or not write_lock.is_retryable(error):
                    raise
                log.warning("write conflict (try %d of %d): retrying", attempt, WRITE_ATTEMPTS)
                await asyncio.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        raise AssertionError("unreachable")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for queries."""
        async with self.engine.connect() as connection:
            yield connection

    async def ping(self) -> None:
        """Raise if the database cannot answer a trivial query."""
        async with self.read() as connection:
            await connection.execute(text("SELECT 1"))

    async def close(self) -> None:
        """Close every pooled connection."""
        if self._writer is not None:
            await self._writer.close()
        await self.engine.dispose()
