"""Binlog mode: a polled snapshot, then the upstream's row binlog, applied as it happens.

- **Start.** With no binlog position stored, the position the binlog is writing at is noted
  *before* a poll pass copies everything; the stream then starts from that note, so nothing
  falls between the snapshot and the stream (what both see is written once, by natural key).
- **Exactly once.** Each batch is committed with the position after the last transaction it
  completes (``cursor["binlog"]``), so a kill resumes there: nothing lost, nothing doubled.
- **Faults.** A dropped or silent stream resumes from the stored position after a backoff.
  A stored position whose file was purged is re-synced by a poll pass over the gap (new
  ids, rows changed since the last applied transaction, and deletes), and sync_status says
  so. A binlog that cannot be followed at all (off, not ROW, no privileges) is an error in
  sync_status, and with ``fallback_to_poll`` the source polls instead.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pymysql

from xiaozhi_server.config import Settings
from xiaozhi_server.domain import Batch, Checkpoint
from xiaozhi_server.ingest.pipeline import Ingestor, IngestResult
from xiaozhi_server.ops.metrics import SYNC_LAST_SUCCESS, SYNC_ROWS
from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.sources.binlog_checks import BinlogUnavailable, check_binlog
from xiaozhi_server.sources.binlog_reader import (
    BinlogPosition,
    BinlogReader,
    Chunk,
    PositionUnusable,
)
from xiaozhi_server.sources.binlog_rows import ColumnNames, convert
from xiaozhi_server.sources.sync import (
    SERVICE,
    Syncer,
    audio_for,
    backoff,
    refused_rows,
    remember_skips,
)
from xiaozhi_server.sources.upstream_db import UpstreamDatabase
from xiaozhi_server.sources.upstream_errors import UpstreamProblem
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.sync_state import read_cursor

log = logging.getLogger(__name__)

RECONNECT_BASE_SECONDS = 0.5
QUEUED_CHUNKS = 16
STABLE_SECONDS = 60.0
_CANNOT_STREAM = 1236  # the server will not send the binlog (bad position, duplicate id, ...)
_SAME_ID = 4052  # MariaDB: a replica with this server id is already connected


class BinlogFollower:
    """Keeps the store in step with the upstream by following its binlog."""

    def __init__(
        self,
        settings: Settings,
        ingestor: Ingestor,
        store: Store,
        upstream: UpstreamDatabase | None = None,
        publish: Callable[[Event], None] | None = None,
    ) -> None:
        self._settings = settings
        self._sync = settings.sync_service
        self._zone = zoneinfo.ZoneInfo(settings.esp32_server.db_timezone)
        self._ingestor = ingestor
        self._store = store
        self._upstream = upstream or UpstreamDatabase(
            settings.esp32_server, self._sync.stall_timeout
        )
        self.poller = Syncer(settings, ingestor, store, self._upstream, publish)
        self._columns = ColumnNames(self._upstream)
        self._failures = 0
        self._streaming_since = float("inf")
        self._unusable: str | None = None  # why the stored position cannot be resumed
        self._notice: str | None = None  # kept in sync_status: the last re-sync and why

    async def close(self) -> None:
        """Close the upstream connection."""
        await self._upstream.close()

    async def run_forever(self) -> None:
        """Follow the binlog for ever; reconnect with backoff; poll instead if it cannot be
        followed and ``fallback_to_poll`` is on."""
        await self.poller.measure_lag()
        while True:
            try:
                await check_binlog(self._upstream)
                await self.stream(await self.start_position())
            except asyncio.CancelledError:
                raise
            except BinlogUnavailable as exc:
                if self._sync.fallback_to_poll:
                    await self._fall_back(exc)
                    return
                await self._failed(exc)
            except PositionUnusable as exc:
                self._unusable = exc.args[0]
                await self._failed(exc)
            except Exception as exc:
                await self._failed(_explained(exc, self._sync.binlog_server_id))

    async def _failed(self, exc: Exception) -> None:
        if time.monotonic() - self._streaming_since > STABLE_SECONDS:
            self._failures = 0  # a drop after a long quiet stream starts the backoff afresh
        self._streaming_since = float("inf")
        self._failures += 1
        await self._upstream.close()  # a path that stalled one connection may hold others
        await self.poller.record_failure(exc, self._failures)
        await asyncio.sleep(backoff(RECONNECT_BASE_SECONDS, self._failures))

    async def _fall_back(self, exc: BinlogUnavailable) -> None:
        self.poller.notice = (
            f"binlog unavailable: {exc}; polling every {self._sync.interval:g}s instead"
        )
        log.warning("%s", self.poller.notice)
        await self.poller.run_forever()

    async def start_position(self) -> BinlogPosition:
        """The stored position, if the upstream still has it; otherwise note where the binlog
        is now, poll-sync up to it (all of it, or the gap) and store the note."""
        cursor = await read_cursor(self._store, SERVICE)
        stored = _stored_position(cursor)
        if stored is not None and self._unusable is None:
            if stored.file in await self._upstream.binlog_files():
                return stored
            self._unusable = f"{stored.file} was purged"
        now = await self._upstream.binlog_position()
        if now is None:
            raise BinlogUnavailable("the upstream's binary log is off", "turn log_bin on")
        here = BinlogPosition(*now)
        await self.poller.run_pass(reconcile=True if stored is not None else None)
        cursor = await read_cursor(self._store, SERVICE)
        cursor["binlog"] = {"file": here.file, "offset": here.offset}
        if stored is not None:
            self._notice = (
                f"binlog position {stored} unusable ({self._unusable}): "
                f"the gap was re-synced by polling; following from {here}"
            )
            log.warning("%s", self._notice)
            cursor["resynced"] = {"at": datetime.now(UTC).isoformat(), "why": self._notice}
        await self._commit(Batch(), cursor)
        self._unusable = None
        return here

    async def stream(self, start: BinlogPosition) -> None:
        """Apply the binlog from ``start`` until the stream fails (that is raised)."""
        queue: asyncio.Queue[Chunk | BaseException] = asyncio.Queue(QUEUED_CHUNKS)
        reader = BinlogReader(self._settings, start, queue, self._sync.batch_size)
        cursor = await read_cursor(self._store, SERVICE)
        reader.start()
        self._streaming_since = time.monotonic()
        log.info("following the upstream binlog from %s", start)
        try:
            while True:
                chunks, failure = await _take(queue, self._sync.batch_size)
                if chunks:
                    await self._apply(chunks, cursor)
                if failure is not None:
                    raise failure
        finally:
            await reader.stop()

    async def _apply(self, chunks: list[Chunk], cursor: dict[str, Any]) -> None:
        named = []
        for chunk in chunks:
            named += [(change, await self._columns.name(change)) for change in chunk.changes]
            self._columns.forget(chunk.altered)  # a chunk's DDL comes after its rows
        converted = convert(named, self._zone)
        before = dict(cursor)
        remember_skips(cursor, converted.skipped)
        cursor["high_id"] = max(int(cursor.get("high_id", 0)), converted.high_id)
        ends = [chunk for chunk in chunks if chunk.end is not None]
        if ends:
            self._advance(cursor, ends[-1])
        for batch in converted.batches[:-1]:  # a resume replays these: the position waits
            await self._apply_batch(batch, before)
        await self._apply_batch(converted.batches[-1], cursor)
        self._failures = 0
        self._caught_up(chunks)

    def _caught_up(self, chunks: list[Chunk]) -> None:
        """Move the time the store is current to (the lag is measured from it): the last
        applied transaction's binlog timestamp, or a heartbeat's arrival (the stream was idle
        and had sent everything)."""
        marks = [c.caught_up_at or (c.committed_at if c.end else None) for c in chunks]
        known = [mark for mark in marks if mark]
        if known:
            latest = min(time.time(), max(known))  # an upstream clock ahead of ours
            self.poller.current_as_of = max(self.poller.current_as_of, latest)

    def _advance(self, cursor: dict[str, Any], chunk: Chunk) -> None:
        assert chunk.end is not None
        cursor["binlog"] = {"file": chunk.end.file, "offset": chunk.end.offset}
        if chunk.committed_at:
            # where a poll re-sync of a purged gap starts reading changed rows from
            local = datetime.fromtimestamp(chunk.committed_at, self._zone).replace(tzinfo=None)
            cursor["updated_at"] = local.isoformat()

    async def _apply_batch(self, batch: Batch, cursor: dict[str, Any]) -> None:
        batch.audio = await audio_for(batch.messages, self._store, self._upstream)
        result = await self._commit(batch, cursor)
        remember_skips(cursor, refused_rows(batch, result))  # kept with the next commit
        SYNC_ROWS.labels(SERVICE, "new").inc(result.inserted)
        SYNC_ROWS.labels(SERVICE, "updated").inc(result.updated)
        SYNC_ROWS.labels(SERVICE, "deleted").inc(result.deleted)
        self.poller.last_success = time.time()
        SYNC_LAST_SUCCESS.labels(SERVICE).set(self.poller.last_success)

    async def _commit(self, batch: Batch, cursor: dict[str, Any]) -> IngestResult:
        cursor["mode"] = "binlog"
        batch.on_delete = self._sync.on_delete
        batch.checkpoint = Checkpoint(SERVICE, dict(cursor), "success", self._notice)
        return await self._ingestor.ingest(batch)


async def _take(
    queue: asyncio.Queue[Chunk | BaseException], rows: int
) -> tuple[list[Chunk], BaseException | None]:
    """The next chunk, and those already waiting behind it up to ``rows`` changes (one
    write for a burst); and the failure that ended the stream, if one is among them."""
    chunks: list[Chunk] = []
    item = await queue.get()
    while True:
        if isinstance(item, BaseException):
            return chunks, item
        chunks.append(item)
        if queue.empty() or sum(len(c.changes) for c in chunks) >= rows:
            return chunks, None
        item = queue.get_nowait()


def _stored_position(cursor: dict[str, Any]) -> BinlogPosition | None:
    stored = cursor.get("binlog")
    if not isinstance(stored, dict):
        return None
    return BinlogPosition(str(stored["file"]), int(stored["offset"]))


def _explained(exc: Exception, server_id: int) -> Exception:
    """The server's refusal to stream, said so that a person can act on it."""
    unexplained = exc  # (typed: the driver's error classes are not)
    if not isinstance(exc, pymysql.MySQLError) or len(exc.args) < 2:
        return unexplained
    code, message = exc.args[0], str(exc.args[1])
    if code == _SAME_ID or (code == _CANNOT_STREAM and "same server" in message.lower()):
        return UpstreamProblem(
            f"another replica of the upstream uses server id {server_id}: "
            "set sync_service.binlog_server_id to a value unique among its replicas"
        )
    if code == _CANNOT_STREAM:
        return UpstreamProblem(f"the upstream refused to send its binlog: {message}")
    return unexplained
