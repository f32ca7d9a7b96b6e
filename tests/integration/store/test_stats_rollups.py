"""Statistics rollups stay equal to a recount from ``messages`` whatever the write path does.

A random history (new turns, late turns moving a session's start, agent and audio filled in
later, audio arriving after its message or cleared upstream, titles, archived and mirrored
deletes) is ingested through the real write path (agent-2's audio opted out), with erasures
of a session, device or agent and retention passes (messages and audio) in between; then
every rollup row, and the statistics for random ranges in zones with odd offsets and clock
changes, are compared with a recount."""

from __future__ import annotations

import random
import zoneinfo
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest

from tests.support.rollups import (
    active_devices,
    assert_day_windows_recounted,
    assert_device_quarters_recounted,
    assert_quarters_recounted,
    assert_rollups_recounted,
    assert_running_totals_recounted,
    counted_messages,
    table_rows,
)
from xiaozhi_server.domain import AudioRecord, Batch, Deletion, MessageRecord, TitleRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy import erasure, retention
from xiaozhi_server.privacy.policy import AudioPolicy, DataPolicy
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import rollup_recount, stats
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.quarters import quarter_of, start_of
from xiaozhi_server.store.scopes import RetentionRules
from xiaozhi_server.store.tables import (
    stats_quarters,
)

# Two clusters around clock changes: St John's (-3:30, DST on 8 March 2026) and Berlin
# (DST on 29 March 2026); Kathmandu is +5:45 all year.
CLUSTERS = (datetime(2026, 3, 7, 12, tzinfo=UTC), datetime(2026, 3, 28, 12, tzinfo=UTC))
ZONES = ("Asia/Kathmandu", "America/St_Johns", "Europe/Berlin", "UTC")
DEVICES = ("dev-a", "dev-b", "dev-c", "dev-d")
AGENTS = ("agent-1", "agent-2", None)
OPT_OUT = {"agent-2": False}


class History:
    """Random writes through the ingest path, remembering what can be filled or deleted."""

    def __init__(self, store: Store, seed: int, bulk_batches: int = 0) -> None:
        self.store = store
        self.bulk_batches = bulk_batches  # the first ones, as a bulk copy sends them
        self.rng = random.Random(seed)
        # agent-2's audio is opted out: its turns are stored without their audio
        self.ingestor = Ingestor(store, EventBus(), DataPolicy(audio=AudioPolicy(agents=OPT_OUT)))
        self.sent: list[MessageRecord] = []
        self.next_id = 1
        self.audio_ids = 0

    def moment(self) -> datetime:
        start = self.rng.choice(CLUSTERS)
        return start + timedelta(seconds=self.rng.randrange(0, 2 * 86400), milliseconds=7)

    def new_message(self) -> MessageRecord:
        session = f"s-{self.rng.randrange(60)}"
        device = DEVICES[hash(session) % len(DEVICES)] if self.rng.random() < 0.9 else "dev-x"
        audio_id = None
        if self.rng.random() < 0.3:
            self.audio_ids += 1
            audio_id = f"au-{self.audio_ids}"
        record = MessageRecord(
            device,
            session,
            self.rng.choice((1, 2, 3)),
            f"turn {self.next_id}",
            self.moment(),
            "test",
            agent_id=self.rng.choice(AGENTS),
            audio_id=audio_id,
            source_id=self.next_id,
        )
        self.next_id += 1
        return record

    async def step(self) -> None:
        """One random batch."""
        batch = Batch(on_delete=self.rng.choice(("mirror", "archive")))
        batch.recount_rollups = self.bulk_batches > 0
        self.bulk_batches -= 1
        for _ in range(self.rng.randrange(1, 8)):
            record = self.new_message()
            batch.messages.append(record)
            if record.audio_id and self.rng.random() < 0.5:
                batch.audio.append(AudioRecord(record.audio_id, b"x" * self.rng.randrange(1, 99)))
        for old in self.rng.sample(self.sent, min(len(self.sent), 3)):
            batch.messages.append(self._refill(old))
        if self.sent and self.rng.random() < 0.5:
            late = self.rng.choice(self.sent)
            batch.audio.append(
                AudioRecord(late.audio_id or "au-none", b"y" * self.rng.randrange(1, 99))
            )
        if self.sent and self.rng.random() < 0.3:
            batch.titles.append(TitleRecord(self.rng.choice(self.sent).session_id, "a title"))
        for gone in self.rng.sample(self.sent, min(len(self.sent), self.rng.randrange(0, 3))):
            batch.deletions.append(Deletion("message", gone.source_id or 0))
        await self.ingestor.ingest(batch)
        self.sent.extend(batch.messages)
        if self.rng.random() < 0.1:
            await self._erase()
        if self.rng.random() < 0.1:
            await self._purge()

    async def _erase(self) -> None:
        """Erase one session, device or agent (later turns of it are withheld: tombstones)."""
        target = self.rng.choice(
            (
                erasure.Target("session", self.rng.choice(self.sent).session_id),
                erasure.Target("session", self.rng.choice(self.sent).session_id),
                erasure.Target("device", self.rng.choice(("dev-d", "dev-x"))),
                erasure.Target("agent", "agent-2"),
            )
        )
        await erasure.erase(self.store, target, batch_size=3)

    async def _purge(self) -> None:
        """A retention pass whose cutoffs fall inside the first cluster of turns."""
        now = CLUSTERS[1] + timedelta(days=3, minutes=self.rng.randrange(24 * 60))
        policy = DataPolicy(
            messages=RetentionRules(
                devices={"dev-a": 23},
                default=self.rng.choice((None, None, 24)),
                overridden_devices=frozenset({"dev-a"}),
            ),
            audio_retention=RetentionRules(default=23),
        )
        await retention.run_pass(self.store, policy, batch_size=4, now=now)

    def _refill(self, old: MessageRecord) -> MessageRecord:
        """The same turn again: agent filled in, audio set, or (upstream) audio cleared."""
        upstream = self.rng.random() < 0.3
        return MessageRecord(
            old.device,
            old.session_id,
            old.chat_type,
            old.content,
            old.created_at,
            "poll" if upstream else "tap",
            agent_id=old.agent_id or self.rng.choice(AGENTS),
            audio_id=None if upstream and self.rng.random() < 0.5 else old.audio_id,
            source_id=old.source_id,
            upstream_state=upstream,
        )


@pytest.fixture(params=[11, 12])
async def history(request: pytest.FixtureRequest, store: Store) -> Store:
    """A store after 40 random batches."""
    return await _written(store, request.param)


@pytest.fixture
async def pending(store: Store) -> Store:
    """A store after 40 random batches, the first 25 as a bulk copy sends them: the rollups
    wait for their recount (store/rollup_recount.py)."""
    return await _written(store, 13, bulk_batches=25)


async def _written(store: Store, seed: int, bulk_batches: int = 0) -> Store:
    writer = History(store, seed, bulk_batches)
    for _ in range(40):
        await writer.step()
    return store


async def test_per_quarter_rollup_equals_a_recount(history: Store) -> None:
    await assert_quarters_recounted(history)


async def test_running_totals_per_device_and_agent_equal_a_recount(history: Store) -> None:
    await assert_running_totals_recounted(history)


async def test_active_device_quarters_equal_a_recount(history: Store) -> None:
    await assert_device_quarters_recounted(history)


async def test_day_windows_equal_a_recount_of_distinct_devices(history: Store) -> None:
    await assert_day_windows_recounted(history)


async def test_rebuild_recounts_every_rollup_from_messages(history: Store) -> None:
    await history.run_write(rollup_recount.rebuild)
    await assert_quarters_recounted(history)
    await assert_running_totals_recounted(history)
    await assert_device_quarters_recounted(history)
    await assert_day_windows_recounted(history)


async def test_a_bulk_batch_leaves_the_rollups_to_a_recount_until_caught_up(store: Store) -> None:
    writer = History(store, 5, bulk_batches=1)
    await writer.step()
    assert await table_rows(store, stats_quarters) == []
    assert await store.run_write(rollup_recount.catch_up) is True
    await assert_quarters_recounted(store)
    assert await store.run_write(rollup_recount.catch_up) is False


async def test_writes_after_the_recount_keep_the_rollups_again(store: Store) -> None:
    writer = History(store, 6, bulk_batches=3)
    for _ in range(3):
        await writer.step()
    await store.run_write(rollup_recount.catch_up)
    for _ in range(5):
        await writer.step()
    await assert_quarters_recounted(store)
    await assert_running_totals_recounted(store)


async def test_a_recount_puts_messages_at_a_quarter_edge_in_their_own_quarter(
    store: Store,
) -> None:
    edge = datetime(2026, 3, 7, 12, 15, tzinfo=UTC)
    offsets = (timedelta(milliseconds=-1), timedelta(0), timedelta(milliseconds=999))
    turns = [
        MessageRecord("dev-a", "s-edge", 1, f"turn {n}", edge + offset, "test", source_id=n)
        for n, offset in enumerate(offsets)
    ]
    await Ingestor(store, EventBus()).ingest(Batch(messages=turns, recount_rollups=True))
    await store.run_write(rollup_recount.catch_up)
    quarter = quarter_of(edge)
    assert await table_rows(store, stats_quarters) == [
        (quarter - 1, 1, 1, 0, 0),
        (quarter, 2, 0, 0, 0),
    ]


def _ranges(seed: int) -> Iterator[tuple[datetime, datetime]]:
    """Ranges on and off quarter boundaries, from minutes to days, around both clusters."""
    rng = random.Random(seed)
    for _ in range(6):
        since = rng.choice(CLUSTERS) - timedelta(hours=14) + timedelta(seconds=rng.randrange(86400))
        if rng.random() < 0.4:
            since = start_of(quarter_of(since))
        yield since, since + timedelta(seconds=rng.choice((600, 5000, 86400, 3 * 86400 + 77)))


def _day_bounds(since: datetime, until: datetime, zone: zoneinfo.ZoneInfo) -> list[Any]:
    first = since.astimezone(zone).date()
    last = (until - timedelta(microseconds=1)).astimezone(zone).date()
    days = []
    for n in range((last - first).days + 1):
        day: date = first + timedelta(days=n)
        start = datetime.combine(day, time(), zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC)
        days.append((day.isoformat(), max(start, since), min(end, until)))
    return days


def _recount(rows: list[dict[str, Any]], since: datetime, until: datetime) -> dict[str, int]:
    inside = [row for row in rows if since <= row["created_at"] < until]
    firsts: dict[str, datetime] = {}
    for row in rows:
        session = row["session_id"]
        firsts[session] = min(firsts.get(session, row["created_at"]), row["created_at"])
    return {
        "messages": len(inside),
        "sessions": sum(1 for first in firsts.values() if since <= first < until),
        "tool_calls": sum(row["chat_type"] == 3 for row in inside),
        "audio_bytes": sum(row["audio_bytes"] for row in inside),
        "active_devices": active_devices(rows, since, until),
    }


@pytest.mark.parametrize("zone_name", ZONES)
async def test_days_in_any_zone_equal_a_recount(history: Store, zone_name: str) -> None:
    await _assert_days_recounted(history, zone_name)


@pytest.mark.parametrize("column", ["device", "agent"])
async def test_device_and_agent_totals_equal_a_recount(history: Store, column: str) -> None:
    await _assert_totals_recounted(history, column)


async def test_statistics_while_a_recount_waits_equal_a_recount(pending: Store) -> None:
    await _assert_statistics_recounted(pending)


async def test_the_recount_a_bulk_copy_waits_for_equals_a_recount(pending: Store) -> None:
    assert await pending.run_write(rollup_recount.catch_up) is True
    await assert_rollups_recounted(pending)
    await _assert_statistics_recounted(pending)


async def _assert_statistics_recounted(store: Store) -> None:
    for zone_name in ZONES:
        await _assert_days_recounted(store, zone_name)
    for column in ("device", "agent"):
        await _assert_totals_recounted(store, column)


async def _assert_days_recounted(store: Store, zone_name: str) -> None:
    rows = await counted_messages(store)
    zone = zoneinfo.ZoneInfo(zone_name)
    for since, until in _ranges(len(zone_name)):
        days = _day_bounds(since, until, zone)
        expected = [{"key": key} | _recount(rows, start, end) for key, start, end in days]
        assert await stats.per_day(store, days) == expected, (zone_name, since, until)


async def _assert_totals_recounted(store: Store, column: str) -> None:
    rows = await counted_messages(store)
    for since, until in _ranges(7):
        expected = []
        field = "device" if column == "device" else "agent_id"
        for key in {row[field] for row in rows}:
            mine = [row for row in rows if row[field] == key]
            totals = _recount_pairs(mine, since, until)
            if totals["messages"]:
                expected.append({"key": key} | totals)
        expected.sort(key=lambda b: (-b["messages"], b["key"] or ""))
        assert await stats.totals_by(store, column, since, until) == expected, (column, since)


def _recount_pairs(rows: list[dict[str, Any]], since: datetime, until: datetime) -> dict[str, int]:
    """Totals over [since, until); sessions started per (session, device, agent)."""
    totals = _recount(rows, since, until)
    firsts: dict[tuple[Any, ...], datetime] = {}
    for row in rows:
        key = (row["session_id"], row["device"], row["agent_id"])
        firsts[key] = min(firsts.get(key, row["created_at"]), row["created_at"])
    totals["sessions"] = sum(1 for first in firsts.values() if since <= first < until)
    pairs = {(r["device"], r["agent_id"]) for r in rows if since <= r["created_at"] < until}
    totals["active_devices"] = len({device for device, _ in pairs})
    return totals
