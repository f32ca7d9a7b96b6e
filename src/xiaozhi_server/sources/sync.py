"""The pull source: copy the upstream database into the store, exactly once, for ever.

How the cursor survives the two classic traps (docs/architecture.md has the long form):

- **New rows by id**, with *gap tracking*: reading ids in order, every id skipped below the
  highest one read is remembered with the time it was first missed. A transaction that took
  id 101 but commits after 102 was read leaves 101 as a gap; each pass looks the gaps up
  again, so 101 arrives when it commits. Gaps that stay empty past ``GAP_TTL`` were rolled
  back or deleted and are forgotten.
- **Changed rows by updated_at**, re-read from ``update_overlap_seconds`` before the newest
  change seen: an update (audio cleared) moves updated_at, and a change that commits a
  little after its timestamp still falls inside the overlap.
- **Deletes** by reconciliation: per id range, (count, sum of ids) upstream against the
  store's copies; only ranges that differ are drilled into.

Reading is at-least-once; the store's natural key makes writing idempotent; each batch is
committed together with the cursor that describes it, so a kill at any point resumes with
nothing lost and nothing doubled.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from xiaozhi_server.config import Settings
from xiaozhi_server.domain import AudioRecord, Batch, Checkpoint, Deletion, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor, IngestResult
from xiaozhi_server.ingest.write_behind import WriteBehind
from xiaozhi_server.ops.metrics import (
    SYNC_FAILURES,
    SYNC_LAST_SUCCESS,
    SYNC_ROWS,
    UPSTREAM_CALLS,
    measure_lag,
)
from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.sources import upstream_rows
from xiaozhi_server.sources.upstream_db import UpstreamDatabase
from xiaozhi_server.sources.upstream_errors import describe
from xiaozhi_server.store import copies, rollup_recount
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.sync_state import all_sync_status, read_cursor, record_failure

log = logging.getLogger(__name__)

SERVICE = "upstream_db"
GAP_TTL = timedelta(minutes=10)
MAX_GAPS = 10_000
LONGEST_GAP_RUN = 1_000  # a longer jump in ids is an auto-increment step, not a transaction
RECONCILE_RANGE = 10_000
DRILL_RANGE = 1_000
BACKOFF_CAP_SECONDS = 60.0
KEPT_SKIPS = 20
# A copy of fewer new rows keeps the rollups batch by batch (see bulk_copy).
BULK_MIN_ROWS = 10_000


@dataclass(slots=True)
class PassSummary:
    """What one pass did."""

    new: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    seconds: float = 0.0


Progress = Callable[[PassSummary], None]


def backoff(base: float, failures: int) -> float:
    """Seconds to wait after ``failures`` failures in a row: doubling from ``base``, capped,
    with jitter so that instances do not retry in step."""
    ceiling = min(BACKOFF_CAP_SECONDS, base * 2**failures)
    return random.uniform(ceiling / 2, ceiling)


def bulk_copy(behind: int, stored: int) -> bool:
    """True if a copy of ``behind`` new upstream rows into a store of about ``stored``
    messages should leave the statistics rollups to one recount at its end
    (store/rollup_recount.py). Kept batch by batch they cost a first copy about half its
    writer's time (~85 µs a row); a recount costs ~20 µs a row but counts every row stored,
    so it pays once the copy is at least as large as the store (docs/benchmarks.md)."""
    return behind >= BULK_MIN_ROWS and behind >= stored


def refused_rows(batch: Batch, result: IngestResult) -> list[tuple[Any, str]]:
    """(upstream id, reason) of each message of ``batch`` the write path refused."""
    messages = batch.messages
    return [(messages[r.index].source_id, r.reason) for r in result.rejected if r.kind == "message"]


def count(summary: PassSummary, batch: Batch, result: IngestResult) -> None:
    """Add what one committed batch did to the pass's summary."""
    summary.new += result.inserted
    summary.updated += result.updated
    summary.deleted += result.deleted


def settled(
    summary: PassSummary, progress: Progress | None
) -> Callable[[Batch, IngestResult], None]:
    """What to do with each committed batch of a pass: count it, report progress."""

    def settle(batch: Batch, result: IngestResult) -> None:
        count(summary, batch, result)
        if progress:
            progress(summary)

    return settle


def remember_skips(cursor: dict[str, Any], skips: list[tuple[Any, str]]) -> int:
    """Log skipped upstream rows and keep the latest few in the cursor; return how many
    were new (an overlapping read sees a row more than once: each is reported once)."""
    kept = cursor.setdefault("skipped", [])
    known = {entry["id"] for entry in kept}
    fresh = [(row_id, reason) for row_id, reason in skips if row_id not in known]
    for row_id, reason in fresh:
        log.warning("upstream row %s skipped: %s", row_id, reason)
        kept.append({"id": row_id, "reason": reason})
    del kept[:-KEPT_SKIPS]
    return len(fresh)


async def audio_for(
    messages: list[MessageRecord], store: Store, upstream: UpstreamDatabase
) -> list[AudioRecord]:
    """The upstream audio these messages name that the store does not hold yet."""
    wanted = sorted({m.audio_id for m in messages if m.audio_id})
    missing = sorted(set(wanted) - await copies.stored_audio_ids(store, wanted))
    found = await upstream.audio(missing)
    return [AudioRecord(audio_id, data) for audio_id, data in found.items()]


class Syncer:
    """Runs passes over the upstream database and feeds the one write path."""

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
        self._publish = publish
        self.last_success = 0.0  # epoch seconds of the last success
        # epoch seconds up to which the store holds the upstream's changes (lag is measured
        # from it): the start of the last completed pass, or (binlog) the last transaction
        self.current_as_of = 0.0
        # (id → updated_at) of rows already applied inside the overlap window: re-read by
        # every pass while the window covers them, but applied once (memory only: after a
        # restart the window is applied once more, which is harmless).
        self._applied: dict[int, datetime] = {}
        # shown in sync_status while set (binlog mode that fell back to polling says so)
        self.notice: str | None = None
        # At 0 from the start, so that increase() sees the first failure, and a dashboard
        # or an alert has a series before anything failed.
        SYNC_FAILURES.labels(SERVICE)

    async def close(self) -> None:
        """Close the upstream connection."""
        await self._upstream.close()

    async def run_pass(
        self, reconcile: bool | None = None, progress: Progress | None = None
    ) -> PassSummary:
        """One full pass: metadata, new rows, gaps, changes, titles and (when due) deletes."""
        started, started_at = time.monotonic(), time.time()
        cursor = await read_cursor(self._store, SERVICE)
        summary = PassSummary()
        await self._metadata(cursor, summary)
        first_pass = "updated_at" not in cursor
        if first_pass:
            # Changes before this moment are read by the id scan below; later ones next pass.
            cursor["updated_at"] = (await self._upstream.now()).isoformat()
        previous_high = int(cursor.get("high_id", 0))
        await self._new_messages(cursor, summary, progress)
        await self._gaps(cursor, summary)
        if not first_pass:
            await self._changed_messages(cursor, summary, previous_high, progress)
        await self._titles(cursor, summary)
        if reconcile if reconcile is not None else self._reconcile_due(cursor):
            await self._reconcile(cursor, summary)
        summary.seconds = time.monotonic() - started
        await self._commit(Batch(), cursor, summary, completed=True)
        UPSTREAM_CALLS.labels("upstream_db", "success").inc()
        self.last_success = time.time()
        self.current_as_of = max(self.current_as_of, started_at)
        SYNC_LAST_SUCCESS.labels(SERVICE).set(self.last_success)
        for kind in ("new", "updated", "deleted"):
            SYNC_ROWS.labels(SERVICE, kind).inc(getattr(summary, kind))
        await self.announce()
        return summary

    async def run_forever(self) -> None:
        """Pass after pass every ``sync_service.interval``; back off (with jitter) on failure."""
        await self.measure_lag()
        failures = 0
        while True:
            try:
                await self.run_pass()
                if failures:
                    log.info("sync recovered after %d failed passes", failures)
                failures = 0
                delay = self._sync.interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                await self.record_failure(exc, failures)
                delay = backoff(self._sync.interval, failures)
            await asyncio.sleep(delay)

    async def record_failure(self, exc: Exception, failures: int) -> None:
        """Log, count and store a failure (the store keeps the position and counters)."""
        message = describe(exc, self._settings.esp32_server)
        log.warning("sync failed (%d in a row): %s", failures, message)
        UPSTREAM_CALLS.labels("upstream_db", "failure").inc()
        SYNC_FAILURES.labels(SERVICE).inc()
        try:
            await record_failure(self._store, SERVICE, message)
            await self.announce()
        except Exception:
            log.exception("could not record the sync failure")

    async def measure_lag(self) -> None:
        """Report ``xiaozhi_sync_lag_seconds`` from now on, computed at each scrape. Until a
        pass of this process completes, it counts from the stored last success (or from now,
        before the first one ever)."""
        if not self.current_as_of:
            self.current_as_of = time.time()
            try:
                row = await self._status_row()
            except Exception:
                log.exception("could not read the last sync success")
                row = None
            if row is not None and row["last_success_at"] is not None:
                self.current_as_of = row["last_success_at"].timestamp()
        measure_lag(SERVICE, lambda: self.current_as_of)

    async def _status_row(self) -> dict[str, Any] | None:
        rows = await all_sync_status(self._store)
        return next((row for row in rows if row["service_name"] == SERVICE), None)

    async def announce(self) -> None:
        """Publish this source's sync_status row to the feed."""
        if self._publish is None:
            return
        row = await self._status_row()
        if row is not None:
            self._publish(Event("sync_status", row))

    async def _commit(
        self, batch: Batch, cursor: dict[str, Any], summary: PassSummary, completed: bool = False
    ) -> None:
        """Ingest ``batch`` with the cursor; a pass's last commit marks it successful."""
        result = await self._ingestor.ingest(self._with_checkpoint(batch, cursor, completed))
        count(summary, batch, result)
        summary.skipped += remember_skips(cursor, refused_rows(batch, result))

    def _with_checkpoint(
        self, batch: Batch, cursor: dict[str, Any], completed: bool = False
    ) -> Batch:
        """``batch`` carrying the cursor as it is now: its position commits with its rows."""
        batch.on_delete = self._sync.on_delete
        cursor["mode"] = "poll"
        status = "success" if completed else "in_progress"
        batch.checkpoint = Checkpoint(SERVICE, dict(cursor), status, self.notice)
        return batch

    async def _write_behind(
        self, writes: WriteBehind, batch: Batch, cursor: dict[str, Any], summary: PassSummary
    ) -> None:
        """Send ``batch`` with the cursor through ``writes`` (read on while it is written)."""
        rejected = await writes.add(self._with_checkpoint(batch, cursor))
        summary.skipped += remember_skips(
            cursor, refused_rows(batch, IngestResult(rejected=rejected))
        )

    async def _records(
        self, rows: list[dict[str, Any]], cursor: dict[str, Any], summary: PassSummary
    ) -> Batch:
        messages: list[MessageRecord] = []
        skips: list[tuple[Any, str]] = []
        # Only rows the next changed-rows scan can see are remembered: the rest of a first
        # copy of millions would be held in memory for nothing.
        floor = self._window_start(cursor)
        for row in rows:
            changed_at = row["updated_at"]
            if floor is None or changed_at is None or changed_at >= floor:
                self._applied[int(row["id"])] = changed_at
            try:
                messages.append(upstream_rows.message_record(row, self._zone))
            except upstream_rows.SkippedRow as exc:
                skips.append((row["id"], str(exc)))
        summary.skipped += remember_skips(cursor, skips)
        audio = await audio_for(messages, self._store, self._upstream)
        return Batch(messages=messages, audio=audio)

    def _window_start(self, cursor: dict[str, Any]) -> datetime | None:
        """The earliest updated_at the next changed-rows scan reads (upstream local time)."""
        if "updated_at" not in cursor:
            return None
        start = datetime.fromisoformat(cursor["updated_at"])
        return start - timedelta(seconds=self._sync.update_overlap_seconds)

    async def _metadata(self, cursor: dict[str, Any], summary: PassSummary) -> None:
        agents = await self._upstream.agents()
        devices = await self._upstream.devices()
        gone_agents = await copies.live_agent_ids(self._store) - {a["id"] for a in agents}
        gone_devices = await copies.live_device_ids(self._store) - {d["id"] for d in devices}
        batch = Batch(
            agents=[upstream_rows.agent_record(a) for a in agents],
            devices=[upstream_rows.device_record(d, self._zone) for d in devices],
            deletions=[Deletion("agent", a) for a in sorted(gone_agents)]
            + [Deletion("device", d) for d in sorted(gone_devices)],
        )
        await self._commit(batch, cursor, summary)

    async def _new_messages(
        self, cursor: dict[str, Any], summary: PassSummary, progress: Progress | None
    ) -> None:
        behind = await self._upstream.max_message_id() - int(cursor.get("high_id", 0))
        bulk = bulk_copy(behind, await copies.highest_message_id(self._store))
        async with WriteBehind(self._ingestor, settled(summary, progress)) as writes:
            while True:
                high = int(cursor.get("high_id", 0))
                rows = await self._upstream.messages_after(high, self._sync.batch_size)
                if not rows:
                    break
                self._track_gaps(cursor, high, [int(r["id"]) for r in rows])
                cursor["high_id"] = int(rows[-1]["id"])
                batch = await self._records(rows, cursor, summary)
                batch.recount_rollups = bulk
                await self._write_behind(writes, batch, cursor, summary)
        # also after a bulk copy that an earlier run left unfinished
        await self._recount_rollups()

    async def _recount_rollups(self) -> None:
        """Recount the statistics rollups if a bulk copy asked for it."""
        async with self._store.read() as connection:
            asked = await connection.run_sync(rollup_recount.pending)
        if asked:
            started = time.monotonic()
            await self._store.run_write(rollup_recount.catch_up)
            log.info("statistics recounted in %.1f s", time.monotonic() - started)

    def _track_gaps(self, cursor: dict[str, Any], high: int, ids: list[int]) -> None:
        gaps: dict[str, str] = cursor.setdefault("gaps", {})
        now = datetime.now(UTC).isoformat()
        expected = high + 1
        for row_id in ids:
            if 0 < row_id - expected <= LONGEST_GAP_RUN and high > 0:
                gaps.update((str(missing), now) for missing in range(expected, row_id))
            expected = row_id + 1
        for stale in sorted(gaps, key=int)[: max(0, len(gaps) - MAX_GAPS)]:
            del gaps[stale]

    async def _gaps(self, cursor: dict[str, Any], summary: PassSummary) -> None:
        gaps: dict[str, str] = cursor.get("gaps", {})
        if not gaps:
            return
        rows = await self._upstream.messages_by_id(
            [int(g) for g in list(gaps)[: self._sync.batch_size]]
        )
        for row in rows:
            gaps.pop(str(row["id"]), None)
        expiry = datetime.now(UTC) - GAP_TTL
        for gap, first_missed in list(gaps.items()):
            if datetime.fromisoformat(first_missed) < expiry:
                del gaps[gap]
        await self._commit(await self._records(rows, cursor, summary), cursor, summary)

    async def _changed_messages(
        self, cursor: dict[str, Any], summary: PassSummary, up_to_id: int, progress: Progress | None
    ) -> None:
        """Rows changed since the last scan (less the overlap). Rows the id scan has just read
        whole are skipped, and the window follows the upstream's clock, so it slides on even
        when nothing changes: a bulk load is not re-read pass after pass."""
        clock = await self._upstream.now()
        since = datetime.fromisoformat(cursor["updated_at"]) - timedelta(
            seconds=self._sync.update_overlap_seconds
        )
        candidates = await self._upstream.changed_ids(since, up_to_id)
        changed = [row_id for row_id, at in candidates if self._applied.get(row_id) != at]
        async with WriteBehind(self._ingestor, settled(summary, progress)) as writes:
            for first in range(0, len(changed), self._sync.batch_size):
                rows = await self._upstream.messages_by_id(
                    changed[first : first + self._sync.batch_size]
                )
                batch = await self._records(rows, cursor, summary)
                await self._write_behind(writes, batch, cursor, summary)
        cursor["updated_at"] = clock.isoformat()
        self._applied = {i: at for i, at in self._applied.items() if at >= since}

    async def _titles(self, cursor: dict[str, Any], summary: PassSummary) -> None:
        seen = cursor.get("titles_at")
        since = (
            datetime.fromisoformat(seen) - timedelta(seconds=self._sync.update_overlap_seconds)
            if seen
            else None
        )
        after: tuple[datetime, str] | None = None
        while True:
            rows = await self._upstream.titles_changed(since, after, self._sync.batch_size)
            if not rows:
                return
            after = (rows[-1]["changed_at"], rows[-1]["id"])
            cursor["titles_at"] = max(r["changed_at"] for r in rows).isoformat()
            batch = Batch(titles=[upstream_rows.title_record(r) for r in rows if r["session_id"]])
            await self._commit(batch, cursor, summary)

    def _reconcile_due(self, cursor: dict[str, Any]) -> bool:
        last = cursor.get("reconciled_at")
        if last is None:
            return True
        age = datetime.now(UTC) - datetime.fromisoformat(last)
        return age.total_seconds() >= self._sync.reconcile_interval

    async def _reconcile(self, cursor: dict[str, Any], summary: PassSummary) -> None:
        top = int(cursor.get("high_id", 0))
        gone: list[int] = []
        for low in range(1, top + 1, RECONCILE_RANGE):
            gone += await self._missing_upstream(low, min(low + RECONCILE_RANGE - 1, top))
            if len(gone) >= self._sync.batch_size:
                await self._commit(
                    Batch(deletions=[Deletion("message", i) for i in gone]), cursor, summary
                )
                gone = []
        cursor["reconciled_at"] = datetime.now(UTC).isoformat()
        await self._commit(Batch(deletions=[Deletion("message", i) for i in gone]), cursor, summary)

    async def _missing_upstream(self, low: int, high: int) -> list[int]:
        """Ids the store holds live copies of in [low, high] that are gone upstream."""
        mine = await copies.source_digest(self._store, low, high)
        if mine[0] == 0 or mine == await self._upstream.id_digest(low, high):
            return []
        if high - low < DRILL_RANGE:
            here = await copies.source_ids_between(self._store, low, high)
            return sorted(here - await self._upstream.ids_between(low, high))
        middle = (low + high) // 2
        return await self._missing_upstream(low, middle) + await self._missing_upstream(
            middle + 1, high
        )
