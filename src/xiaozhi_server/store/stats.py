"""Statistics read from the rollups (store/rollups.py): per local day, per device, per agent.

Whole quarters come from the rollups; the parts of a range that are not whole quarters (at
most 15 minutes at each end) are counted from ``messages``, so every range is exact. While
a bulk copy has left the rollups to a recount (store/rollup_recount.py), whole ranges are
counted from ``messages``: slower, still exact.
``sessions`` counts sessions *started* in the bucket (their earliest message).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    select,
    union_all,
)

from xiaozhi_server.store import rollup_recount
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.quarters import DAY_LENGTHS, quarter_at_or_after, quarter_of, start_of
from xiaozhi_server.store.tables import (
    QUARTER_COUNTERS,
    audio,
    messages,
    stats_day_windows,
    stats_device_quarters,
    stats_pairs,
    stats_quarters,
    stats_running,
)

Row = dict[str, Any]
Pair = tuple[str, str]
Span = tuple[datetime, datetime]


@dataclass(slots=True)
class _Part:
    """One bucket's range split into whole quarters [first, end) and leftover edges."""

    quarters: tuple[int, int] | None
    edges: list[Span] = field(default_factory=list)


def _split(since: datetime, until: datetime, recounting: bool) -> _Part:
    first, end = quarter_at_or_after(since), quarter_of(until)
    if first >= end or recounting:
        return _Part(None, [(since, until)])
    edges = [(since, start_of(first)), (start_of(end), until)]
    return _Part((first, end), [(a, b) for a, b in edges if a < b])


async def per_day(store: Store, days: Sequence[tuple[str, datetime, datetime]]) -> list[Row]:
    """Totals per day, each day given as (key, start, end) in UTC."""
    async with store.read() as connection:
        return await connection.run_sync(_per_day, list(days))


async def totals_by(store: Store, column: str, since: datetime, until: datetime) -> list[Row]:
    """Totals per device or per agent for messages created in [since, until)."""
    async with store.read() as connection:
        pairs = await connection.run_sync(_pair_totals, since, until)
    return _group(pairs, column)


# --- per day ---------------------------------------------------------------------------


def _per_day(connection: Connection, days: list[tuple[str, datetime, datetime]]) -> list[Row]:
    recounting = rollup_recount.pending(connection)
    parts = [_split(start, end, recounting) for _, start, end in days]
    totals = _quarter_totals(connection, [part.quarters for part in parts])
    windows = _windows(connection, [p.quarters for p in parts if not p.edges and p.quarters])
    buckets = []
    for (key, _, _), part, counters in zip(days, parts, totals, strict=True):
        for edge in part.edges:
            for index, value in enumerate(_edge_totals(connection, edge)):
                counters[index] += value
        if not part.edges and part.quarters and _length(part.quarters) in DAY_LENGTHS:
            active = windows.get((part.quarters[0], _length(part.quarters)), 0)
        else:
            active = _count_active(connection, part)
        buckets.append(
            {"key": key, "active_devices": active}
            | dict(zip(QUARTER_COUNTERS, counters, strict=True))
        )
    return buckets


def _length(quarters: tuple[int, int]) -> int:
    return quarters[1] - quarters[0]


def _quarter_totals(connection: Connection, spans: list[tuple[int, int] | None]) -> list[list[int]]:
    """Counters summed over each span, in one query: consecutive spans of one length form a
    run, summed with GROUP BY (quarter - start) / length."""
    totals = [[0, 0, 0, 0] for _ in spans]
    runs: list[tuple[int, int, int, int]] = []  # (first span index, start, length, count)
    for index, span in enumerate(spans):
        if span is None:
            continue
        last = runs[-1] if runs else None
        if (
            last
            and last[0] + last[3] == index
            and last[1] + last[2] * last[3] == span[0]
            and last[2] == _length(span)
        ):
            runs[-1] = (last[0], last[1], last[2], last[3] + 1)
            continue
        runs.append((index, span[0], _length(span), 1))
    if not runs:
        return totals
    selects = [
        _run_select(number, start, length, count)
        for number, (_, start, length, count) in enumerate(runs)
    ]
    query: Any = selects[0] if len(selects) == 1 else union_all(*selects)
    for row in connection.execute(query):
        target = totals[runs[int(row[0])][0] + int(row[1])]
        for position, value in enumerate(row[2:]):
            target[position] = int(value or 0)
    return totals


def _run_select(number: int, start: int, length: int, count: int) -> Any:
    # Literals, not parameters: PostgreSQL must see the same expression in SELECT and GROUP BY.
    slot = (stats_quarters.c.quarter - literal_column(str(int(start)), Integer)) // (
        literal_column(str(int(length)), Integer)
    )
    return (
        select(
            literal_column(str(number), Integer).label("run"),
            slot.label("slot"),
            *(func.sum(stats_quarters.c[name]) for name in QUARTER_COUNTERS),
        )
        .where(stats_quarters.c.quarter >= start, stats_quarters.c.quarter < start + length * count)
        .group_by(slot)
    )


def _windows(connection: Connection, spans: list[tuple[int, int]]) -> dict[tuple[int, int], int]:
    if not spans:
        return {}
    query = select(
        stats_day_windows.c.start_quarter, stats_day_windows.c.quarters, stats_day_windows.c.devices
    ).where(stats_day_windows.c.start_quarter.in_(sorted({s for s, _ in spans})))
    return {(start, length): devices for start, length, devices in connection.execute(query)}


def _count_active(connection: Connection, part: _Part) -> int:
    """Distinct devices with a message in a range that is not a whole day window."""
    selects: list[Any] = []
    if part.quarters:
        table = stats_device_quarters
        selects.append(
            select(table.c.device).where(
                table.c.quarter >= part.quarters[0], table.c.quarter < part.quarters[1]
            )
        )
    for since, until in part.edges:
        selects.append(
            select(messages.c.device).where(
                messages.c.created_at >= since, messages.c.created_at < until
            )
        )
    devices = union_all(*selects).subquery()
    query = select(func.count(func.distinct(devices.c.device)))
    return int(connection.execute(query).scalar_one())


_EARLIER = messages.alias("earlier")


def _first_of_session(same_pair: bool) -> Any:
    """True for a message with no earlier one in its session (for its device and agent)."""
    conditions = [
        _EARLIER.c.session_id == messages.c.session_id,
        _EARLIER.c.created_at < messages.c.created_at,
    ]
    if same_pair:
        conditions += [
            _EARLIER.c.device == messages.c.device,
            func.coalesce(_EARLIER.c.agent_id, "") == func.coalesce(messages.c.agent_id, ""),
        ]
    return ~select(_EARLIER.c.id).where(*conditions).exists()


def _edge_counters(same_pair: bool) -> tuple[Any, ...]:
    started = case((_first_of_session(same_pair), messages.c.session_id), else_=None)
    return (
        func.count(),
        func.count(func.distinct(started)),
        func.coalesce(func.sum(case((messages.c.chat_type == 3, 1), else_=0)), 0),
        func.coalesce(func.sum(func.coalesce(audio.c.size_bytes, 0)), 0),
    )


_WITH_AUDIO = messages.outerjoin(audio, audio.c.audio_id == messages.c.audio_id)
_IN_SPAN = and_(
    messages.c.created_at >= bindparam("since"), messages.c.created_at < bindparam("until")
)
_EDGE_TOTALS = select(*_edge_counters(False)).select_from(_WITH_AUDIO).where(_IN_SPAN)
# per pair as the rollups key it: no agent and '' are one (a tie of both on a session's
# first moment would otherwise start the session twice)
_PAIR_AGENT = func.coalesce(messages.c.agent_id, literal_column("''"))
_EDGE_PAIRS = (
    select(messages.c.device, _PAIR_AGENT, *_edge_counters(True))
    .select_from(_WITH_AUDIO)
    .where(_IN_SPAN)
    .group_by(messages.c.device, _PAIR_AGENT)
)


def _edge_totals(connection: Connection, span: Span) -> list[int]:
    row = connection.execute(_EDGE_TOTALS, {"since": span[0], "until": span[1]}).one()
    return [int(value or 0) for value in row]


# --- per device / agent ----------------------------------------------------------------

_LATER = stats_running.alias("later")
_AT_END = stats_running.alias("at_end")
_AT_START = stats_running.alias("at_start")


def _last_row_before(bound: str) -> Any:
    """The quarter of a pair's last running-totals row before quarter ``bound``."""
    return (
        select(func.max(_LATER.c.quarter))
        .where(
            _LATER.c.device == stats_pairs.c.device,
            _LATER.c.agent == stats_pairs.c.agent,
            _LATER.c.quarter < bindparam(bound),
        )
        .scalar_subquery()
    )


def _same_pair(row: Any, bound: str) -> Any:
    return and_(
        row.c.device == stats_pairs.c.device,
        row.c.agent == stats_pairs.c.agent,
        row.c.quarter == _last_row_before(bound),
    )


def _range_per_pair() -> Any:
    """Per pair: running totals at the range's end minus those at its start (one pass, two
    index seeks per pair)."""
    joined = stats_pairs.join(_AT_END, _same_pair(_AT_END, "end")).outerjoin(
        _AT_START, _same_pair(_AT_START, "first")
    )
    return (
        select(
            stats_pairs.c.device,
            stats_pairs.c.agent,
            *(_AT_END.c[name] - func.coalesce(_AT_START.c[name], 0) for name in QUARTER_COUNTERS),
        )
        .select_from(joined)
        # Pairs last written before the range add nothing; pairs first written after it neither.
        .where(
            stats_pairs.c.first_quarter < bindparam("end"),
            stats_pairs.c.last_quarter >= bindparam("first"),
            _AT_END.c.messages > func.coalesce(_AT_START.c.messages, 0),
        )
    )


def _last_quarters(name: str, below: str, at_least: str | None = None) -> Any:
    """Per pair, its last running-totals quarter before ``below`` (and at or after
    ``at_least``): one GROUP BY that MariaDB reads with a loose index scan (one seek per pair,
    "Using index for group-by")."""
    conditions = [stats_running.c.quarter < bindparam(below)]
    if at_least is not None:
        conditions.append(stats_running.c.quarter >= bindparam(at_least))
    return (
        select(
            stats_running.c.device,
            stats_running.c.agent,
            func.max(stats_running.c.quarter).label("quarter"),
        )
        .where(*conditions)
        .group_by(stats_running.c.device, stats_running.c.agent)
        .subquery(name)
    )


def _row_at(row: Any, last: Any) -> Any:
    return and_(
        row.c.device == last.c.device, row.c.agent == last.c.agent, row.c.quarter == last.c.quarter
    )


def _range_per_pair_grouped() -> Any:
    """The same as :func:`_range_per_pair`, spelled for MariaDB: there the correlated MAX is a
    dependent subquery reading each pair's whole index prefix (~130 ms for 1,000 pairs),
    while derived tables grouped per pair take one seek per pair. Pairs without a row in the
    range have nothing in it, so the range's end is looked up only among rows in the range."""
    at_end = _last_quarters("end_quarter", "end", "first")
    at_start = _last_quarters("start_quarter", "first")
    joined = (
        at_end.join(_AT_END, _row_at(_AT_END, at_end))
        .outerjoin(
            at_start, and_(at_start.c.device == at_end.c.device, at_start.c.agent == at_end.c.agent)
        )
        .outerjoin(_AT_START, _row_at(_AT_START, at_start))
    )
    return (
        select(
            at_end.c.device,
            at_end.c.agent,
            *(_AT_END.c[name] - func.coalesce(_AT_START.c[name], 0) for name in QUARTER_COUNTERS),
        )
        .select_from(joined)
        .where(_AT_END.c.messages > func.coalesce(_AT_START.c.messages, 0))
    )


_RANGE_PER_PAIR = _range_per_pair()
_RANGE_PER_PAIR_GROUPED = _range_per_pair_grouped()


def _pair_totals(connection: Connection, since: datetime, until: datetime) -> dict[Pair, list[int]]:
    part = _split(since, until, rollup_recount.pending(connection))
    pairs: defaultdict[Pair, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    if part.quarters:
        first, end = part.quarters
        query = _RANGE_PER_PAIR_GROUPED if connection.dialect.name == "mysql" else _RANGE_PER_PAIR
        for device, agent, *values in connection.execute(query, {"first": first, "end": end}):
            pairs[(device, agent)] = [int(value) for value in values]
    for edge_since, edge_until in part.edges:
        spans = {"since": edge_since, "until": edge_until}
        for device, agent, *values in connection.execute(_EDGE_PAIRS, spans):
            counters = pairs[(device, agent or "")]
            for index, value in enumerate(values):
                counters[index] += int(value or 0)
    return pairs


_BUCKET_FIELDS = ("key", "active_devices", *QUARTER_COUNTERS)


def _group(pairs: dict[Pair, list[int]], column: str) -> list[Row]:
    """Pairs summed per device or per agent; a pair with messages is one active device."""
    # Plain lists while summing, one dict per bucket at the end: per device, a 90-day range
    # is a thousand buckets, and merged dicts per pair took 2.6 ms of a ~20 ms request.
    sums: dict[str | None, list[int]] = {}
    for (device, agent), counters in pairs.items():
        if counters[0] <= 0:
            continue
        key = device if column == "device" else (agent or None)
        total = sums.get(key)
        if total is None:
            sums[key] = [1, *counters]
            continue
        total[0] += 1
        for index, value in enumerate(counters, 1):
            total[index] += value
    if column == "device":
        for total in sums.values():
            total[0] = 1
    buckets = [dict(zip(_BUCKET_FIELDS, (key, *total), strict=True)) for key, total in sums.items()]
    return sorted(buckets, key=lambda b: (-b["messages"], b["key"] or ""))
