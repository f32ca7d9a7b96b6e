"""SQLite's one writer, in one thread: a whole transaction per hand-off, not per statement.

Through aiosqlite every statement is a round trip between the event loop and a worker
thread (about 0.4 ms here); a batch of a dozen statements spent most of its time waiting.
Here the event loop hands a whole unit of work to a dedicated thread that runs it on a
plain synchronous connection and commits. ``writer_process.py`` runs the same units of work
in a process of its own (what ``serve`` and ``sync`` use), so they do not share the GIL
with the event loop.

Each transaction starts with ``BEGIN IMMEDIATE`` (``writer_engine``): it takes SQLite's
write lock first (waiting up to ``busy_timeout``), so the reads a batch makes before its
first write (which rows exist already) belong to the transaction. The driver on its own
would begin only at the first INSERT, leaving those reads outside; within one process the
store's write lock hid that, but the worker processes of one ``serve`` (each with its own
writer) and a ``sync`` next to ``serve`` write the same file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

from xiaozhi_server.store.engine import apply_sqlite_pragmas

T = TypeVar("T")
# SQLAlchemy's "connect" event: (DB-API connection, pool record)
ConnectHook = Callable[[Any, Any], None]


def writer_engine(url: str, on_connect: ConnectHook = apply_sqlite_pragmas) -> Engine:
    """A synchronous engine on the SQLite file of ``url`` for one writer connection, each
    new connection set up by ``on_connect`` (the store's pragmas).

    Every transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock before the
    first read, so what a unit of work reads cannot change before it writes (another
    process — a second worker, ``sync`` next to ``serve`` — waits for the lock instead),
    and new rows' ids follow the largest id without gaps from other writers.
    """
    engine = create_engine(
        make_url(url).set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0
    )
    event.listen(engine, "connect", on_connect)
    event.listen(engine, "connect", _no_implicit_begin)
    event.listen(engine, "begin", _begin_immediate)
    return engine


def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
    # The driver's own implicit BEGIN (deferred, before the first write) is replaced by ours.
    dbapi_connection.isolation_level = None


def _begin_immediate(connection: Connection) -> None:
    # On the driver's connection: through SQLAlchemy's execution this cost ~40 µs a time.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE")  # type: ignore[union-attr]


class SqliteWriter:
    """Runs write transactions on a synchronous SQLite connection in its own thread."""

    def __init__(self, url: str, on_connect: ConnectHook = apply_sqlite_pragmas) -> None:
        self._url = url
        self._on_connect = on_connect
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._engine: Engine | None = None

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction in the writer thread; commit if it returns."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._transaction, work)

    async def close(self) -> None:
        """Close the connection (in its own thread) and stop the thread."""
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._dispose)
        self._executor.shutdown(wait=True)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        if self._engine is None:
            self._engine = writer_engine(self._url, self._on_connect)
        with self._engine.begin() as connection:
            return work(connection)

    def _dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
