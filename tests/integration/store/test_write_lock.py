"""Several instances writing to one shared store: every turn stored once, every count exact."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.support.aggregates import assert_aggregates_exact
from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages

DEVICES = [f"a0:85:e3:00:01:{n:02x}" for n in range(4)]
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def turns(instance: int, n: int) -> Batch:
    """One report batch touching every device, in an order that differs per instance."""
    order = DEVICES if instance % 2 == 0 else DEVICES[::-1]
    at = T0 + timedelta(seconds=n)
    return Batch(
        messages=[
            MessageRecord(mac, f"{mac[-2:]}-{n // 4}", 1, f"i{instance} n{n}", at, "report")
            for mac in order
        ]
    )


async def write_from(store: Store, instance: int, count: int) -> None:
    ingestor = Ingestor(store, EventBus())
    for n in range(count):
        await ingestor.ingest(turns(instance, n))


@pytest.mark.parametrize("store_url", ["mariadb", "postgresql"], indirect=True)
async def test_three_instances_writing_the_same_sessions_keep_every_count_exact(
    store: Store, store_url: str
) -> None:
    instances = [Store(store_url) for _ in range(3)]
    try:
        await asyncio.gather(*(write_from(s, i, 40) for i, s in enumerate(instances)))
    finally:
        for instance in instances:
            await instance.close()
    async with store.read() as connection:
        total = (await connection.execute(select(func.count()).select_from(messages))).scalar()
    assert total == 3 * 40 * len(DEVICES)
    await assert_aggregates_exact(store)
