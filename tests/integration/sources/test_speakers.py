"""A voiceprint turn captured live and then read from the upstream's table is one row with
its speaker: both sources go through the same normalisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from tests.integration.sources.test_sync import Hub, sync_settings
from tests.support.core_client import encoded, report_body
from tests.support.upstream import INSERT_MESSAGE, Upstream, mac
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.sources.report import ReportLimits, parse_report
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages

SAID = json.dumps({"speaker": "爷爷", "content": "几点了"}, ensure_ascii=False)
LOCAL = "2026-11-24 20:00:00.250"  # Asia/Shanghai, the upstream's zone
UTC_MILLIS = int(datetime(2026, 11, 24, 12, 0, 0, 250000, tzinfo=UTC).timestamp() * 1000)


async def stored(store: Store) -> list[dict[str, Any]]:
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(messages))]


async def test_a_reported_voiceprint_turn_and_its_upstream_row_are_one_row_with_a_speaker(
    store_url: str, upstream: Upstream
) -> None:
    store = Store(store_url)
    await migrate.upgrade(store.engine)
    body = report_body(mac=mac(0), session_id="s-1", content=SAID, report_time=UTC_MILLIS)
    limits = ReportLimits(max_content_chars=10_000, max_audio_bytes=1000)
    await Ingestor(store, EventBus()).ingest(parse_report(encoded(body), limits))
    await upstream.executemany(INSERT_MESSAGE, [(mac(0), "agent0", "s-1", 1, SAID, None, LOCAL)])
    hub = Hub(store, sync_settings(store_url, upstream))
    await hub.syncer.run_pass()
    [row] = await stored(store)
    assert (row["speaker"], row["content"], row["source_id"]) == ("爷爷", "几点了", 1)
    await hub.syncer.close()
    await store.close()
