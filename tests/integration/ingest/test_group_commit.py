"""Group commit: concurrent batches share a transaction but keep their own outcomes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.group_commit import GroupCommitter
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages


def one_turn(n: int, chat_type: int = 1) -> Batch:
    record = MessageRecord(
        "a0:85:e3:00:00:01", "s", chat_type, f"turn {n}", datetime.now(UTC), "test"
    )
    return Batch(messages=[record])


async def count(store: Store) -> int:
    async with store.read() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(messages))).scalar_one()
        )


async def test_concurrent_batches_are_all_stored_and_each_caller_gets_its_own_rejections(
    store: Store,
) -> None:
    committer = GroupCommitter(Ingestor(store, EventBus()))
    batches = [one_turn(n, chat_type=9 if n == 3 else 1) for n in range(20)]
    results = await asyncio.gather(*(committer.submit(batch) for batch in batches))
    await committer.close()
    assert [len(r.rejected) for r in results] == [1 if n == 3 else 0 for n in range(20)]
    assert results[3].rejected[0].index == 0
    assert await count(store) == 19


async def test_a_failing_store_fails_every_caller_instead_of_losing_records(tmp_path: Path) -> None:
    unmigrated = Store(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    committer = GroupCommitter(Ingestor(unmigrated, EventBus()))
    outcomes = await asyncio.gather(
        *(committer.submit(one_turn(n)) for n in range(3)), return_exceptions=True
    )
    await committer.close()
    await unmigrated.close()
    assert all(isinstance(outcome, Exception) for outcome in outcomes)
