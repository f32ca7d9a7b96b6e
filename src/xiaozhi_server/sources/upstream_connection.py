"""One connection to the upstream MySQL that cannot hang on a frozen server.

The trap: a stalled peer produces no error. A server stopped by SIGSTOP, a paused VM, a
stuck disk or a path that silently drops packets leaves the TCP connection open: no reset,
no error; a query simply waits for a reply that never comes, and a sync that waits looks
exactly like a healthy one with nothing to do. Three bounds close it:

- opening a connection (TCP, the MySQL handshake, the login) must finish within
  ``stall_timeout``;
- a query silent for ``stall_timeout`` is checked on a second connection, which must answer
  within ``stall_timeout``: no answer, the server is stalled (``UpstreamStalled``). An
  answer that shows the query's connection still working (``SHOW PROCESSLIST``) means a
  merely long query (a scan of a large table): it goes on. Shown idle at two checks in a
  row, the server has no query to answer: the connection stalled on its way
  (``UpstreamStalled`` too). A stalled query is abandoned and its connection closed;
- a long query goes on up to ``esp32_server.query_timeout`` in all.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import asyncmy

from xiaozhi_server.config import Esp32ServerSettings
from xiaozhi_server.sources.upstream_errors import UpstreamProblem

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]


class UpstreamStalled(UpstreamProblem):
    """The upstream stopped answering without an error: frozen, or a stalled network path."""


class UpstreamConnection:
    """A lazily opened connection whose every call ends: with rows, an error, or a stall."""

    def __init__(self, settings: Esp32ServerSettings, stall_timeout: float) -> None:
        self._settings = settings
        self._stall = stall_timeout
        self._connection: Any = None

    def close(self) -> None:
        """Close the connection, if open (the next call opens a new one)."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def rows(self, sql: str, args: Sequence[Any] = ()) -> Rows:
        """Run ``sql`` and return its rows as dicts; raise ``UpstreamStalled`` if the
        server stops answering."""
        if self._connection is None:
            self._connection = await self._open()
        query = asyncio.ensure_future(_fetch(self._connection, sql, args))
        try:
            return await self._watch(query)
        except BaseException:
            query.cancel()
            query.add_done_callback(_retrieved)
            self.close()  # a broken or abandoned connection is reopened on the next call
            raise

    async def _open(self) -> Any:
        try:
            return await asyncio.wait_for(self._connect(), self._stall)
        except TimeoutError:
            raise UpstreamStalled(
                f"the upstream MySQL at {self._where()} did not complete a connection within "
                f"{self._stall:g}s (sync_service.stall_timeout): the server is stalled "
                "(frozen or overloaded) or the network path drops packets"
            ) from None

    async def _connect(self) -> Any:
        db = self._settings.db
        return await asyncmy.connect(
            host=db.host,
            port=db.port,
            user=db.user,
            password=db.password.get_secret_value(),
            database=db.database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=max(1, math.ceil(self._settings.timeout)),  # asyncmy refuses 0
        )

    async def _watch(self, query: asyncio.Future[Rows]) -> Rows:
        """Wait for ``query``, checking on it each time it stays silent for a while."""
        deadline = time.monotonic() + self._settings.query_timeout
        thread = self._connection.thread_id()
        idle_before = False
        while True:
            left = max(0.0, deadline - time.monotonic())
            done, _ = await asyncio.wait({query}, timeout=min(self._stall, left))
            if done:
                return query.result()
            if time.monotonic() >= deadline:
                raise UpstreamProblem(
                    f"the upstream MySQL at {self._where()} did not answer a query within "
                    f"{self._settings.query_timeout:g}s (esp32_server.query_timeout); "
                    "the connection is opened again"
                )
            busy = await self._probe(thread)
            if not busy and idle_before:  # twice: not a reply that was just on its way
                raise UpstreamStalled(
                    f"the upstream MySQL at {self._where()} answers, but a query's reply has "
                    f"not come for {2 * self._stall:g}s and the server is not working on it "
                    "(sync_service.stall_timeout): the connection stalled on its network "
                    "path. The connection is opened again"
                )
            idle_before = not busy

    async def _probe(self, thread: int) -> bool:
        """Whether the server, asked on a second connection, is still working on the query
        of connection ``thread`` (a long query, not a stall); ``UpstreamStalled`` if it does
        not answer within ``stall_timeout``."""
        try:
            async with asyncio.timeout(self._stall):
                probe = await self._connect()
                try:
                    threads = await _fetch(probe, "SHOW PROCESSLIST", ())
                finally:
                    probe.close()
        except Exception as exc:
            if _answered(exc):
                log.debug("the stall check failed, but the server answered: %s", exc)
                return True
            raise UpstreamStalled(
                f"the upstream MySQL at {self._where()} stalled: a query got no reply for "
                f"{self._stall:g}s and a check on a second connection none within "
                f"{self._stall:g}s (sync_service.stall_timeout); the server is frozen or the "
                "network path stalled. The connection is opened again"
            ) from None
        # a user sees its own connections: ours is there, busy, while its query runs
        return any(row["Id"] == thread and row["Command"] != "Sleep" for row in threads)

    def _where(self) -> str:
        return f"{self._settings.db.host}:{self._settings.db.port}"


async def _fetch(connection: Any, sql: str, args: Sequence[Any]) -> Rows:
    async with connection.cursor(asyncmy.cursors.DictCursor) as cursor:
        await cursor.execute(sql, tuple(args))
        return list(await cursor.fetchall())


def _answered(exc: Exception) -> bool:
    """Whether a failed probe still heard from the server: a server error (too many
    connections, access denied) proves it alive; a timeout or a client-side connection
    error (codes 2000-2999) does not."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    return code is not None and not 2000 <= code < 3000


def _retrieved(task: asyncio.Future[Rows]) -> None:
    """Mark an abandoned query's outcome as seen (asyncio warns about unseen errors)."""
    if not task.cancelled():
        task.exception()
