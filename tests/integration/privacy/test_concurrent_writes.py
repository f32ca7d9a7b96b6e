"""Erasure and retention while reports keep arriving, on SQLite and MariaDB: no write slips
past an erasure, nothing deadlocks, and the counts are exact when the dust settles."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.support.aggregates import assert_aggregates_exact
from xiaozhi_server.config import CaptureSettings, RetentionSettings
from xiaozhi_server.domain import Batch, DeviceRecord, MessageRecord
from xiaozhi_server.ingest.group_commit import GroupCommitter
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy import erasure
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.privacy.retention import run_pass
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages

ERASED, OTHER = "a0:85:e3:00:00:0e", "a0:85:e3:00:00:0f"
T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def turn(device: str, n: int, at: datetime) -> Batch:
    message = MessageRecord(device, f"{device[-2:]}-{n // 5}", 1, f"turn {n}", at, "report")
    return Batch(messages=[message])


async def keep_reporting(
    committer: GroupCommitter, device: str, count: int, start: datetime
) -> None:
    """``count`` turns, one report at a time, five per session, a second apart from ``start``."""
    for n in range(count):
        await committer.submit(turn(device, n, start + timedelta(seconds=n)))


async def stored(store: Store, device: str) -> list[datetime]:
    async with store.read() as connection:
        query = select(messages.c.created_at).where(messages.c.device == device)
        return [row.created_at for row in await connection.execute(query)]


async def test_turns_reported_during_an_erasure_never_outlive_it(store: Store) -> None:
    committer = GroupCommitter(Ingestor(store, EventBus()))
    try:
        await committer.submit(Batch(devices=[DeviceRecord(ERASED, alias="走廊")]))
        await keep_reporting(committer, ERASED, 50, T0)
        target = await erasure.find_target(store, "device", ERASED)
        assert target is not None
        reporting = asyncio.gather(
            keep_reporting(committer, ERASED, 300, T0 + timedelta(minutes=5)),
            keep_reporting(committer, OTHER, 300, T0),
        )
        await asyncio.sleep(0)
        await erasure.erase(store, target, batch_size=7)
        await reporting
    finally:
        await committer.close()
    assert await stored(store, ERASED) == []
    assert len(await stored(store, OTHER)) == 300
    await assert_aggregates_exact(store)


async def test_a_retention_pass_while_reports_arrive_keeps_every_count_exact(store: Store) -> None:
    committer = GroupCommitter(Ingestor(store, EventBus()))
    long_ago = datetime.now(UTC) - timedelta(days=90)
    try:
        await keep_reporting(committer, OTHER, 200, long_ago)
        policy = DataPolicy.from_settings(RetentionSettings(messages_days=30), CaptureSettings())
        now = datetime.now(UTC) - timedelta(minutes=10)
        reporting = keep_reporting(committer, ERASED, 200, now)
        await asyncio.gather(run_pass(store, policy, batch_size=9), reporting)
    finally:
        await committer.close()
    assert await stored(store, OTHER) == []
    assert len(await stored(store, ERASED)) == 200
    await assert_aggregates_exact(store)
