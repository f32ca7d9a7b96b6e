"""Response times per agent and day, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.response_times import percentile, response_times

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
DAY = (T0 - timedelta(hours=1), T0 + timedelta(days=1))
UTC_ZONE = zoneinfo.ZoneInfo("UTC")


def said(
    chat_type: int, millis: int, session: str = "s-1", agent: str = "agent-1", text: str = ""
) -> MessageRecord:
    at = T0 + timedelta(milliseconds=millis)
    content = text or f"{chat_type}@{millis}"
    return MessageRecord("aa:00:00:00:00:01", session, chat_type, content, at, "test", agent)


async def times(
    store: Store, *turns: MessageRecord, zone: zoneinfo.ZoneInfo = UTC_ZONE
) -> list[dict[str, Any]]:
    await Ingestor(store, EventBus()).ingest(Batch(messages=list(turns)))
    return await response_times(store, *DAY, zone)


async def test_a_reply_is_timed_to_its_first_sentence_by_report_time(store: Store) -> None:
    # sentences reported out of order (upstream issue 3066): the earliest one counts
    found = await times(store, said(1, 0), said(2, 2500), said(2, 1200), said(2, 1800))
    assert [(t["replies"], t["p50_ms"], t["p95_ms"]) for t in found] == [(1, 1200, 1200)]


async def test_tool_calls_before_the_reply_are_part_of_its_time(store: Store) -> None:
    found = await times(store, said(1, 0), said(3, 300), said(3, 301), said(2, 4000))
    assert [t["p50_ms"] for t in found] == [4000]


async def test_a_user_turn_that_got_no_agent_sentence_is_not_counted(store: Store) -> None:
    found = await times(store, said(1, 0), said(1, 5000), said(2, 5600))
    assert [(t["replies"], t["p50_ms"]) for t in found] == [(1, 600)]


async def test_each_session_times_its_own_replies(store: Store) -> None:
    found = await times(
        store, said(1, 0, "s-1"), said(1, 100, "s-2"), said(2, 900, "s-2"), said(2, 2000, "s-1")
    )
    assert [(t["replies"], t["p50_ms"], t["p95_ms"]) for t in found] == [(2, 800, 2000)]


async def test_percentiles_are_per_agent_and_nearest_rank(store: Store) -> None:
    turns = []
    for n in range(20):  # agent-1 took 100, 200, ... 2000 ms
        turns += [said(1, n * 60_000), said(2, n * 60_000 + (n + 1) * 100)]
    turns += [said(1, 0, "s-2", "agent-2"), said(2, 700, "s-2", "agent-2")]
    found = await times(store, *turns)
    assert [(t["agent_id"], t["replies"], t["p50_ms"], t["p95_ms"]) for t in found] == [
        ("agent-1", 20, 1000, 1900),
        ("agent-2", 1, 700, 700),
    ]


async def test_a_reply_counts_on_the_user_turns_local_day(store: Store) -> None:
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    late = 7 * 3_600_000 + 59 * 60_000 + 59_000  # 23:59:59 in Shanghai; the reply next day
    found = await times(store, said(1, late), said(2, late + 2000), zone=shanghai)
    assert [(t["day"], t["p50_ms"]) for t in found] == [("2026-11-24", 2000)]


def test_the_nearest_rank_percentile_is_a_value_that_occurred() -> None:
    assert percentile([5, 1, 3], 50) == 3
    assert percentile([7], 95) == 7
    assert percentile(list(range(1, 101)), 95) == 95
