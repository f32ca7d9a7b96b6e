"""Export streams: 100,000 rows leave in pages, never as one body in memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from tests.support.live_app import serving
from xiaozhi_server.config import Settings
from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store

ROWS = 100_000
TEXT = "这是一条用于导出测试的消息 an export test message " * 4


async def fill(url: str) -> None:
    store = Store(url)
    await migrate.upgrade(store.engine)
    ingestor = Ingestor(store, EventBus())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for offset in range(0, ROWS, 5000):
        await ingestor.ingest(
            Batch(
                messages=[
                    MessageRecord(
                        f"aa:00:00:00:00:{n % 100:02x}",
                        f"s-{n // 20}",
                        1 + n % 2,
                        f"{n} {TEXT}",
                        start + timedelta(seconds=n),
                        "test",
                    )
                    for n in range(offset, offset + 5000)
                ]
            )
        )
    await store.close()


def test_exporting_100000_rows_streams_in_flat_memory(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'big.db'}"
    asyncio.run(fill(url))
    settings = Settings.model_validate(
        {"storage": {"url": url}, "auth": {"api_tokens": ["t"], "admin_password": "pw"}}
    )
    with serving(settings) as app:
        tracemalloc.start()
        lines = size = 0
        with httpx.stream(
            "GET",
            f"{app.base_url}/api/v2/export?format=jsonl",
            headers={"Authorization": "Bearer t"},
            timeout=120,
        ) as response:
            for chunk in response.iter_bytes():
                lines += chunk.count(b"\n")
                size += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert lines == ROWS
    assert size > 40_000_000
    assert peak < size / 4, f"peak {peak} bytes for a {size}-byte export"
