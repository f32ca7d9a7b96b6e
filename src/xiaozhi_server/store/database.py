"""The store handle: one engine, a write path that is safe for SQLite's single writer."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from xiaozhi_server.store import write_lock
from xiaozhi_server.store.engine import create_engine, is_sqlite
from xiaozhi_server.store.sqlite_writer import SqliteWriter
from xiaozhi_server.store.writer_process import CannotCross, WriterProcess, succeeded

T = TypeVar("T")
log = logging.getLogger(__name__)
# A conflict that survives the write lock (another kind of writer, a lock-wait timeout on a
# loaded server) gets a few more tries, each after a longer random pause.
WRITE_ATTEMPTS = 5


class Store:
    """Connections to the hub's own database.

    On SQLite, ``run_write`` goes to the one writer: a thread of this process, or with
    ``writer_process`` a process of its own (``serve`` and ``sync``), so that writing does
    not share this process's GIL with the event loop. ``read_cache_kib`` bounds the page
    cache of this process's read connections (``sync`` reads little; its writer caches).
    """

    def __init__(
        self, url: str, writer_process: bool = False, read_cache_kib: int | None = None
    ) -> None:
        self.engine: AsyncEngine = create_engine(url, sqlite_cache_kib=read_cache_kib)
        sqlite = is_sqlite(self.engine)
        # SQLite allows one writer; queueing here beats failing on "database is locked".
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if sqlite else None
        self._url = url
        self._writer: SqliteWriter | WriterProcess | None = None
        self._local_writer: SqliteWriter | None = None  # for units that cannot cross
        if sqlite:
            self._writer = WriterProcess(url) if writer_process else SqliteWriter(url)

    @property
    def safe_url(self) -> str:
        """The URL with its password masked, for logs and messages."""
        return make_url(self.engine.url).render_as_string(hide_password=True)

    @property
    def ordered_writes(self) -> bool:
        """True when units of work sent one after another commit in that order without
        waiting for each other (the SQLite writer process): a caller may send the next
        before the previous has committed."""
        return isinstance(self._writer, WriterProcess)

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
        """Run ``work`` (synchronous SQL) in one transaction, committed if it returns.

        With the writer process, ``work`` and its result cross as pickles: a module-level
        function, its arguments bound with ``functools.partial``. A closure cannot cross;
        it runs in a writer thread of this process instead (slower, but correct). On
        MariaDB/PostgreSQL ``work`` runs after the store's write lock and may run again
        after a conflict (``_run_shared_write``): it must not change its arguments."""
        if self._writer is None:
            return await self._run_shared_write(work)
        if isinstance(self._writer, WriterProcess):
            # The process runs what it is sent in order: no lock, so the next unit of work
            # is already waiting when one commits.
            try:
                return await self._writer.run(work)
            except CannotCross:
                # A closure cannot cross: it runs in a thread here, and SQLite's write lock
                # (BEGIN IMMEDIATE) orders it with the writer process.
                log.debug("unit of work %r runs in this process's writer thread", work)
        assert self._write_lock is not None
        async with self._write_lock:
            return await self._thread_writer().run(work)

    async def submit_write(
        self, work: Callable[[Connection], T], after: asyncio.Future[Any] | None = None
    ) -> asyncio.Future[T]:
        """Like ``run_write``, but return as soon as the writer has ``work``: the future
        is its result. A caller can then prepare the next unit of work meanwhile. With
        ``after`` (a future from an earlier call), ``work`` runs only once that one has
        committed, and fails with ``AfterFailed`` if it did not."""
        if isinstance(self._writer, WriterProcess):
            try:
                return await self._writer.submit(work, after)
            except CannotCross:
                pass  # run_write runs it in a thread
        return asyncio.ensure_future(self._run_write_after(work, after))

    async def _run_write_after(
        self, work: Callable[[Connection], T], after: asyncio.Future[Any] | None
    ) -> T:
        if after is not None:
            await succeeded(after)
        return await self.run_write(work)

    def _thread_writer(self) -> SqliteWriter:
        if isinstance(self._writer, SqliteWriter):
            return self._writer
        if self._local_writer is None:
            self._local_writer = SqliteWriter(self._url)
        return self._local_writer

    async def start_writer(self) -> None:
        """Start the writer process now rather than on the first write (no-op otherwise)."""
        if isinstance(self._writer, WriterProcess):
            await self._writer.start()

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
        if self._local_writer is not None:
            await self._local_writer.close()
        await self.engine.dispose()
