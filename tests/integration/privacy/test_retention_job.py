"""Retention under ``serve``: the background job purges what is due and /metrics counts it."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.live_app import serving
from xiaozhi_server.config import Settings
from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.ops.metrics import RETENTION_PURGED
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages

WAIT_SECONDS = 30.0


def old_and_new() -> Batch:
    now = datetime.now(UTC)
    return Batch(
        messages=[
            MessageRecord(
                "a0:85:e3:00:00:09",
                f"s-{days}",
                1,
                f"{days} days ago",
                now - timedelta(days=days),
                "test",
            )
            for days in (90, 60, 1)
        ]
    )


async def stored(store: Store) -> int:
    async with store.read() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(messages))).scalar_one()
        )


def scraped(base_url: str, kind: str) -> float:
    text = httpx.get(f"{base_url}/metrics").text
    match = re.search(rf'^xiaozhi_retention_purged_total{{kind="{kind}"}} (\S+)$', text, re.M)
    assert match is not None, "the counter is exported"
    return float(match.group(1))


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_the_background_job_purges_what_is_due_and_metrics_count_it(
    store_url: str, store: Store
) -> None:
    await Ingestor(store, EventBus()).ingest(old_and_new())
    before = RETENTION_PURGED.labels("messages")._value.get()
    settings = Settings.model_validate(
        {"storage": {"url": store_url}, "retention": {"messages_days": 30, "interval": 0.2}}
    )
    with serving(settings) as app:
        deadline = time.monotonic() + WAIT_SECONDS
        while await stored(store) != 1:
            assert time.monotonic() < deadline, "the job purged within the wait"
            await asyncio.sleep(0.05)
        assert scraped(app.base_url, "messages") == before + 2
