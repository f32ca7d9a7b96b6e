"""Reading the upstream's row binlog in a thread (mysql-replication blocks) into a queue.

The reader hands over *chunks*: the row changes of one or more transactions, each ending
with the position a resume may start from (the end of its last transaction). A transaction
larger than one chunk is handed over in parts that carry no newer position, so its rows are
written early but a resume replays it whole: replaying is harmless, the write path is
idempotent.

Two traps of the library are closed here rather than worked around downstream:
- after a dropped connection it silently reconnects from a position of its own (its issue
  #367); the connection factory below refuses a second stream connection, so a drop surfaces
  as ``StreamLost`` and the caller resumes from the position it has stored;
- a stream can stall silently (its issue #636); the server is asked for a heartbeat and the
  socket times out after three missed ones, which is a drop like any other.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import math
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import pymysql
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.event import HeartbeatLogEvent, QueryEvent, RotateEvent, XidEvent
from pymysqlreplication.row_event import DeleteRowsEvent, UpdateRowsEvent, WriteRowsEvent

from xiaozhi_server.config import Settings
from xiaozhi_server.sources.upstream_errors import UpstreamProblem

# The audio table is left out: without full row metadata the library would decode its WAV
# bytes as UTF-8 and fail; audio is read by id when a message names it, as polling does.
FOLLOWED = ("ai_agent_chat_history", "ai_agent_chat_title", "ai_device", "ai_agent")
POSITION_ONLY_EVERY = 1.0  # seconds between chunks that only move the position
# statements inside a transaction (its position is no place to resume from) and its ends
_INSIDE = ("BEGIN", "XA START", "XA END", "XA PREPARE", "SAVEPOINT", "RELEASE", "ROLLBACK TO")
_ENDS = ("COMMIT", "ROLLBACK", "XA COMMIT", "XA ROLLBACK")
_DML = ("INSERT", "UPDATE", "DELETE", "REPLACE")
# what the library raises when an event's bytes do not decode
_UNDECODABLE = (UnicodeDecodeError, ValueError, IndexError, KeyError, struct.error)
# The library warns on every connection that row metadata is not FULL, and again on each
# reconnect this module refuses; both are handled here, so only its errors are worth a line.
logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)
_NAMES = {table: re.compile(rf"\b{table}\b", re.IGNORECASE) for table in FOLLOWED}


class StreamLost(UpstreamProblem):
    """The binlog connection dropped or went silent; resume from the stored position."""


class PositionUnusable(UpstreamProblem):
    """The binlog cannot be applied from the stored position (purged, undecodable, or not
    row-based there): the gap must be re-synced by polling."""


@dataclass(frozen=True, slots=True)
class BinlogPosition:
    """Where in the upstream's binlog a stream starts: file name and byte offset."""

    file: str
    offset: int

    def __str__(self) -> str:
        return f"{self.file}:{self.offset}"


@dataclass(frozen=True, slots=True)
class RowChange:
    """One row of a followed table, as the binlog carries it. Without full row metadata the
    keys are ``UNKNOWN_COL<n>`` (n = the column's ordinal position, from 0)."""

    table: str
    kind: Literal["insert", "update", "delete"]
    values: dict[str, Any]


@dataclass(slots=True)
class Chunk:
    """Changes handed over together, and where a resume may start after them."""

    changes: list[RowChange] = field(default_factory=list)
    end: BinlogPosition | None = None
    committed_at: int | None = None  # epoch seconds of the last event, from the binlog
    caught_up_at: float | None = None  # epoch seconds of a heartbeat: nothing was left to send
    altered: set[str] = field(default_factory=set)  # followed tables changed by DDL


class BinlogReader:
    """Follows the binlog from ``start`` in a daemon thread, putting ``Chunk``s (or the
    exception that ended it) on ``queue``."""

    def __init__(
        self,
        settings: Settings,
        start: BinlogPosition,
        queue: asyncio.Queue[Chunk | BaseException],
        chunk_rows: int,
    ) -> None:
        self._settings = settings
        self._start = start
        self._queue = queue
        self._chunk_rows = chunk_rows
        self._loop = asyncio.get_running_loop()
        self._stop = threading.Event()
        self._stream_socket: socket.socket | None = None
        self._pending = Chunk()
        self._last_handover = 0.0
        self._thread = threading.Thread(target=self._run, name="binlog-reader", daemon=True)

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    async def stop(self) -> None:
        """Stop the thread and wait for it: shutting the socket down ends a blocked read."""
        self._stop.set()
        if self._stream_socket is not None:
            with contextlib.suppress(OSError):
                self._stream_socket.shutdown(socket.SHUT_RDWR)
        await asyncio.to_thread(self._thread.join, self._timeout() + 1)

    def _timeout(self) -> float:
        return 3 * self._settings.sync_service.binlog_heartbeat_seconds

    def _silence(self) -> str:
        return (
            f"stalled with no reply, event or heartbeat for {self._timeout():g}s "
            "(3 x sync_service.binlog_heartbeat_seconds): the upstream is frozen or the path "
            "stalled; resuming from the stored position"
        )

    def _run(self) -> None:
        try:
            self._follow()
        except BaseException as exc:  # handed to the event loop, which decides
            with contextlib.suppress(RuntimeError, concurrent.futures.CancelledError):
                self._hand_over(exc)  # (unless the loop is gone: then nobody is listening)

    def _follow(self) -> None:
        db = self._settings.esp32_server.db
        stream = BinLogStreamReader(
            connection_settings={
                "host": db.host,
                "port": db.port,
                "user": db.user,
                "password": db.password.get_secret_value(),
                "charset": "utf8mb4",
                "connect_timeout": max(1, math.ceil(self._settings.esp32_server.timeout)),
                "read_timeout": self._timeout(),
            },
            server_id=self._settings.sync_service.binlog_server_id,
            blocking=True,
            resume_stream=True,
            log_file=self._start.file,
            log_pos=self._start.offset,
            only_schemas=[db.database],
            only_tables=list(FOLLOWED),
            only_events=[
                WriteRowsEvent,
                UpdateRowsEvent,
                DeleteRowsEvent,
                XidEvent,
                QueryEvent,
                RotateEvent,
                HeartbeatLogEvent,
            ],
            slave_heartbeat=self._settings.sync_service.binlog_heartbeat_seconds,
            pymysql_wrapper=self._connect,
            enable_logging=False,
        )
        try:
            while not self._stop.is_set():
                event = self._next_event(stream)
                if event is None:
                    raise StreamLost("the upstream ended the binlog stream")
                self._on_event(event, stream)
        finally:
            stream.close()

    def _next_event(self, stream: Any) -> Any:
        try:
            return stream.fetchone()
        except pymysql.OperationalError as exc:
            # a read that timed out while (re)opening the stream or asking the server about a
            # table: no error came, the server went silent
            if isinstance(exc.__context__, TimeoutError):
                raise StreamLost(f"the binlog connection {self._silence()}") from exc
            raise
        except _UNDECODABLE as exc:
            where = BinlogPosition(stream.log_file, stream.log_pos)
            raise PositionUnusable(
                f"an event after {where} cannot be decoded ({type(exc).__name__}: {exc})"
            ) from exc

    def _connect(self, **settings: Any) -> Any:
        """The library's connection factory: one stream connection per reader, ever, on a
        socket kept here so that ``stop`` can end a blocked read."""
        if "db" in settings:  # the library's control connection, named the old way
            settings["database"] = settings.pop("db")
            return pymysql.connect(**settings)
        if self._stream_socket is not None or self._stop.is_set():
            raise StreamLost(f"the binlog connection dropped, or {self._silence()}")
        address = (settings["host"], settings["port"])
        self._stream_socket = socket.create_connection(address, settings["connect_timeout"])
        self._stream_socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = pymysql.connect(**settings, defer_connect=True)
        connection.connect(self._stream_socket)
        return connection

    def _on_event(self, event: Any, stream: Any) -> None:
        if isinstance(event, WriteRowsEvent | UpdateRowsEvent | DeleteRowsEvent):
            self._add_rows(event)
        elif isinstance(event, XidEvent):
            self._transaction_ended(event, stream)
        elif isinstance(event, QueryEvent):
            self._query(event, stream)
        elif isinstance(event, HeartbeatLogEvent):
            # an idle upstream: the stream is alive and caught up
            self._pending.caught_up_at = time.time()
            self._hand_over_pending()

    def _add_rows(self, event: Any) -> None:
        if isinstance(event, WriteRowsEvent):
            changes = [RowChange(event.table, "insert", row["values"]) for row in event.rows]
        elif isinstance(event, UpdateRowsEvent):
            changes = [RowChange(event.table, "update", row["after_values"]) for row in event.rows]
        else:
            changes = [RowChange(event.table, "delete", row["values"]) for row in event.rows]
        self._pending.changes.extend(changes)
        if len(self._pending.changes) >= self._chunk_rows:
            self._hand_over_pending()  # mid-transaction: no position, a resume replays it

    def _query(self, event: Any, stream: Any) -> None:
        query = str(event.query).strip()
        statement = query.upper()
        if statement.startswith(_INSIDE):
            return
        if not statement.startswith(_ENDS):
            named = self._followed_tables_named(event, query)
            if named and statement.startswith(_DML):
                raise PositionUnusable(
                    f"a change to {', '.join(sorted(named))} was logged as a statement, not as "
                    "rows (a session with binlog_format MIXED or STATEMENT)"
                )
            self._pending.altered |= named  # DDL: column positions may have moved
        self._transaction_ended(event, stream)

    def _followed_tables_named(self, event: Any, query: str) -> set[str]:
        database = self._settings.esp32_server.db.database
        schema = event.schema.decode() if isinstance(event.schema, bytes) else event.schema
        if schema != database and database not in query:
            return set()
        return {table for table in FOLLOWED if _NAMES[table].search(query)}

    def _transaction_ended(self, event: Any, stream: Any) -> None:
        self._pending.end = BinlogPosition(stream.log_file, stream.log_pos)
        self._pending.committed_at = event.timestamp
        busy = self._pending.changes or self._pending.altered
        if busy or time.monotonic() - self._last_handover >= POSITION_ONLY_EVERY:
            self._hand_over_pending()

    def _hand_over_pending(self) -> None:
        chunk, self._pending = self._pending, Chunk()
        self._last_handover = time.monotonic()
        self._hand_over(chunk)

    def _hand_over(self, item: Chunk | BaseException) -> None:
        """Put ``item`` on the queue, waiting while it is full (that is the backpressure)."""
        if self._loop.is_closed():
            return
        future = asyncio.run_coroutine_threadsafe(self._queue.put(item), self._loop)
        while not self._stop.is_set():
            try:
                future.result(timeout=0.5)
                return
            except concurrent.futures.TimeoutError:
                continue
        future.cancel()
