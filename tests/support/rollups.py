"""Statistics rollups against a recount from ``messages`` made here, independently of
store/rollups.py and store/rollup_recount.py (for the tests of either)."""

from __future__ import annotations

import bisect
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.quarters import DAY_LENGTHS, quarter_of, start_of
from xiaozhi_server.store.tables import (
    audio,
    messages,
    stats_day_windows,
    stats_device_quarters,
    stats_pairs,
    stats_quarters,
    stats_recount,
    stats_running,
)


async def assert_rollups_recounted(store: Store) -> None:
    """No recount is pending and every rollup equals a recount."""
    assert await table_rows(store, stats_recount) == []
    await assert_quarters_recounted(store)
    await assert_running_totals_recounted(store)
    await assert_pair_bounds_cover_the_recount(store)
    await assert_device_quarters_recounted(store)
    await assert_day_windows_recounted(store)


async def counted_messages(store: Store) -> list[dict[str, Any]]:
    """Every message as the statistics count it (audio bytes joined in)."""
    query = select(
        messages.c.session_id,
        messages.c.device,
        messages.c.agent_id,
        messages.c.chat_type,
        messages.c.created_at,
        func.coalesce(audio.c.size_bytes, 0).label("audio_bytes"),
    ).select_from(messages.outerjoin(audio, audio.c.audio_id == messages.c.audio_id))
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(query)]


async def table_rows(store: Store, table: Any) -> list[tuple[Any, ...]]:
    """Every row of ``table``."""
    async with store.read() as connection:
        return [tuple(row) for row in await connection.execute(select(table))]


def recount(rows: list[dict[str, Any]], pair: bool) -> dict[tuple[Any, ...], list[int]]:
    """Recount per quarter (or per device, agent and quarter): messages, sessions started,
    tool calls, audio bytes."""
    counts: defaultdict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    starts: dict[tuple[Any, ...], datetime] = {}
    for row in rows:
        owner = (row["device"], row["agent_id"] or "") if pair else ()
        key = (*owner, quarter_of(row["created_at"]))
        counts[key][0] += 1
        counts[key][2] += row["chat_type"] == 3
        counts[key][3] += row["audio_bytes"]
        started = (row["session_id"], *owner)
        starts[started] = min(starts.get(started, row["created_at"]), row["created_at"])
    for started, first in starts.items():
        counts[(*started[1:], quarter_of(first))][1] += 1
    return counts


def active_devices(rows: list[dict[str, Any]], since: datetime, until: datetime) -> int:
    """Distinct devices with a message in [since, until)."""
    return len({row["device"] for row in rows if since <= row["created_at"] < until})


async def assert_quarters_recounted(store: Store) -> None:
    """Per quarter, all devices (rows left at zero by deletes are as good as none)."""
    expected = {key[0]: v for key, v in recount(await counted_messages(store), pair=False).items()}
    stored = {
        row[0]: list(row[1:]) for row in await table_rows(store, stats_quarters) if any(row[1:])
    }
    assert stored == expected


async def assert_running_totals_recounted(store: Store) -> None:
    """Each running-totals row holds its pair's counts up to the end of its quarter."""
    per_pair: defaultdict[tuple[str, str], list[tuple[int, list[int]]]] = defaultdict(list)
    for (device, agent, quarter), counted in sorted(
        recount(await counted_messages(store), pair=True).items()
    ):
        totals = per_pair[(device, agent)]
        before = totals[-1][1] if totals else [0, 0, 0, 0]
        totals.append((quarter, [x + y for x, y in zip(before, counted, strict=True)]))
    for device, agent, quarter, *values in await table_rows(store, stats_running):
        totals = per_pair[(device, agent)]
        at = bisect.bisect_right([q for q, _ in totals], quarter)
        assert values == (totals[at - 1][1] if at else [0, 0, 0, 0]), (device, agent, quarter)


async def assert_pair_bounds_cover_the_recount(store: Store) -> None:
    """Each (device, agent) pair's first and last quarter (bounds that only widen) span
    every quarter the recount finds it in: a range that skips a pair outside its bounds
    misses nothing."""
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    for device, agent, quarter in recount(await counted_messages(store), pair=True):
        first, last = spans.get((device, agent), (quarter, quarter))
        spans[(device, agent)] = (min(first, quarter), max(last, quarter))
    stored = {(d, a): (f, la) for d, a, f, la in await table_rows(store, stats_pairs)}
    for pair, (first, last) in spans.items():
        assert pair in stored, pair
        assert stored[pair][0] <= first, (pair, stored[pair])
        assert stored[pair][1] >= last, (pair, stored[pair])


async def assert_device_quarters_recounted(store: Store) -> None:
    """Messages per (device, quarter), a row only while above zero."""
    expected: defaultdict[tuple[str, int], int] = defaultdict(int)
    for row in await counted_messages(store):
        expected[(row["device"], quarter_of(row["created_at"]))] += 1
    stored = {(d, q): n for d, q, n in await table_rows(store, stats_device_quarters)}
    assert stored == dict(expected)


async def assert_day_windows_recounted(store: Store) -> None:
    """Distinct active devices in every day-long window around the messages."""
    rows = await counted_messages(store)
    stored = {(s, n): d for s, n, d in await table_rows(store, stats_day_windows)}
    quarters = [quarter_of(row["created_at"]) for row in rows]
    for length in DAY_LENGTHS:
        for start in range(min(quarters) - length, max(quarters) + 1):
            expected = active_devices(rows, start_of(start), start_of(start + length))
            assert stored.get((start, length), 0) == expected, (start, length)
