"""SQLite's one writer, in one thread: a whole transaction per hand-off, not per statement.

Through aiosqlite every statement is a round trip between the event loop and a worker
thread (about 0.4 ms here); a batch of a dozen statements spent most of its time waiting.
Here the event loop hands a whole unit of work to a dedicated thread that runs it on a
plain synchronous connection and commits.

Each transaction starts with ``BEGIN IMMEDIATE``: it takes SQLite's write lock first
(waiting up to ``busy_timeout``), so the reads a batch makes before its first write (which
rows exist already) belong to the transaction. The driver on its own would begin only at
the first INSERT, leaving those reads outside; within one process the store's write lock
hid that, but the worker processes of one ``serve`` write the same file.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

T = TypeVar("T")


class SqliteWriter:
    """Runs write transactions on a synchronous SQLite connection in its own thread."""

    def __init__(self, url: str, on_connect: Callable[..., None]) -> None:
        self._url = make_url(url).set(drivername="sqlite+pysqlite")
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
        with self._connect().begin() as connection:
            return work(connection)

    def _connect(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self._url, pool_size=1, max_overflow=0)
            event.listen(self._engine, "connect", self._on_connect)
            event.listen(self._engine, "connect", _no_implicit_begin)
            event.listen(self._engine, "begin", _begin_immediate)
        return self._engine

    def _dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def _no_implicit_begin(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the driver begins nothing itself


def _begin_immediate(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")
