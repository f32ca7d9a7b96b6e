"""Recounting the statistics rollups from ``messages``: after an import, and at the end of a
bulk copy, which asks for it instead of keeping them batch by batch.

A first copy of a million upstream rows spent half of its writer's time keeping the rollups'
running totals up to date batch by batch; recounting them once at the end costs a fraction of
that (docs/benchmarks.md). While a request is stored, ``rollups.apply`` changes nothing and
``stats`` counts from ``messages`` (slower, still exact). The request commits with the first
batch that skips the rollups, so a copy killed at any point leaves it behind, and the next
:func:`catch_up` recounts.

The recount is grouped by the database (per device, agent and quarter: ``QuarterOf``) and
read as a stream in key order, so memory does not grow with the store: a million messages
can be a million (device, agent, quarter) keys.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Table,
    case,
    delete,
    func,
    literal_column,
    select,
    union_all,
)

from xiaozhi_server.store.day_windows import full_windows
from xiaozhi_server.store.dialects import QuarterOf, insert_ignoring_duplicates
from xiaozhi_server.store.driver_statements import fetch, run_many
from xiaozhi_server.store.tables import (
    QUARTER_COUNTERS,
    audio,
    messages,
    stats_day_windows,
    stats_device_quarters,
    stats_pairs,
    stats_quarters,
    stats_recount,
    stats_running,
)

Row = dict[str, Any]
# Per quarter, all pairs: messages, tool calls and audio bytes add up; sessions do not (a
# session with two pairs started once).
_SUMMED_OVER_PAIRS = (0, 2, 3)
_ROLLUPS = (stats_quarters, stats_running, stats_pairs, stats_device_quarters, stats_day_windows)
_PENDING = select(stats_recount.c.id).limit(1)
_CHUNK = 5_000


def request(connection: Connection, now: datetime) -> None:
    """Ask for a recount: from now on the rollups are left alone until one is done."""
    statement = insert_ignoring_duplicates(connection.dialect, stats_recount)
    connection.execute(statement, {"id": 1, "requested_at": now})


def pending(connection: Connection) -> bool:
    """True while a recount is requested and not done."""
    return bool(fetch(connection, _PENDING, {}))


def catch_up(connection: Connection) -> bool:
    """Recount the rollups if a bulk copy asked for it; True if so."""
    if not pending(connection):
        return False
    rebuild(connection)
    connection.execute(delete(stats_recount))
    return True


def rebuild(connection: Connection) -> None:
    """Recount every rollup from ``messages``."""
    for table in (
        stats_quarters,
        stats_running,
        stats_pairs,
        stats_device_quarters,
        stats_day_windows,
    ):
        connection.execute(delete(table))
    quarters = _recount_pairs(connection)
    for quarter, started in connection.execute(_SESSION_STARTS):
        quarters[quarter][1] += int(started)
    _insert(
        connection,
        stats_quarters,
        ({"quarter": q} | _counters(v) for q, v in sorted(quarters.items())),
    )
    _recount_devices(connection)


def _counters(values: list[int]) -> Row:
    return dict(zip(QUARTER_COUNTERS, values, strict=True))


_QUARTER = QuarterOf(messages.c.created_at).label("quarter")
_AGENT = func.coalesce(messages.c.agent_id, "").label("agent")
_ZERO: Any = literal_column("0", Integer)
_COUNTED = (
    select(
        messages.c.device,
        _AGENT,
        _QUARTER,
        func.count().label("messages"),
        _ZERO.label("sessions"),
        func.sum(case((messages.c.chat_type == 3, 1), else_=0)).label("tool_calls"),
        func.sum(func.coalesce(audio.c.size_bytes, 0)).label("audio_bytes"),
    )
    .select_from(messages.outerjoin(audio, audio.c.audio_id == messages.c.audio_id))
    .group_by(messages.c.device, _AGENT, _QUARTER)
)
# A pair's session starts where the pair's earliest message in the session is.
_FIRST_PER_PAIR = (
    select(messages.c.device, _AGENT, func.min(messages.c.created_at).label("first"))
    .group_by(messages.c.session_id, messages.c.device, _AGENT)
    .subquery()
)
_STARTED = select(
    _FIRST_PER_PAIR.c.device,
    _FIRST_PER_PAIR.c.agent,
    QuarterOf(_FIRST_PER_PAIR.c.first).label("quarter"),
    _ZERO.label("messages"),
    func.count().label("sessions"),
    _ZERO.label("tool_calls"),
    _ZERO.label("audio_bytes"),
).group_by(_FIRST_PER_PAIR.c.device, _FIRST_PER_PAIR.c.agent, QuarterOf(_FIRST_PER_PAIR.c.first))
_BOTH = union_all(_COUNTED, _STARTED).subquery()
_KEY = (_BOTH.c.device, _BOTH.c.agent, _BOTH.c.quarter)
# Per (device, agent, quarter), in that order: messages, sessions started, tool calls, bytes.
_PAIR_QUARTERS = (
    select(*_KEY, *(func.sum(_BOTH.c[name]) for name in QUARTER_COUNTERS))
    .group_by(*_KEY)
    .order_by(*_KEY)
)
_FIRST_PER_SESSION = (
    select(func.min(messages.c.created_at).label("first"))
    .group_by(messages.c.session_id)
    .subquery()
)
_SESSION_STARTS = select(QuarterOf(_FIRST_PER_SESSION.c.first), func.count()).group_by(
    QuarterOf(_FIRST_PER_SESSION.c.first)
)
_DEVICE_QUARTERS = (
    select(messages.c.device, _QUARTER, func.count())
    .group_by(messages.c.device, _QUARTER)
    .order_by(messages.c.device, _QUARTER)
)


def _recount_pairs(connection: Connection) -> defaultdict[int, list[int]]:
    """Write the running totals and spans of every (device, agent); return the counters per
    quarter summed over all pairs (but sessions, which count per session, not per pair)."""
    quarters: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    spans: list[Row] = []

    def running() -> Iterator[Row]:
        rows = connection.execute(_PAIR_QUARTERS)
        for (device, agent), group in itertools.groupby(rows, key=itemgetter(0, 1)):
            total, first, quarter = [0, 0, 0, 0], None, 0
            for _, _, quarter, *counters in group:
                values = [int(value) for value in counters]
                total = [a + b for a, b in zip(total, values, strict=True)]
                summed = quarters[quarter]
                for index in _SUMMED_OVER_PAIRS:
                    summed[index] += values[index]
                first = quarter if first is None else first
                yield {"device": device, "agent": agent, "quarter": quarter} | _counters(total)
            spans.append(
                {"device": device, "agent": agent, "first_quarter": first, "last_quarter": quarter}
            )

    _insert(connection, stats_running, running())
    _insert(connection, stats_pairs, iter(spans))
    return quarters


def _recount_devices(connection: Connection) -> None:
    """Write messages per (device, quarter), and the day windows of active devices."""
    rows: list[Row] = []

    def active_by_device() -> Iterator[list[int]]:
        result = connection.execute(_DEVICE_QUARTERS)
        for device, group in itertools.groupby(result, key=itemgetter(0)):
            active = []
            for _, quarter, count in group:
                active.append(quarter)
                rows.append({"device": device, "quarter": quarter, "messages": int(count)})
            if len(rows) >= _CHUNK:
                run_many(connection, stats_device_quarters.insert(), rows)
                rows.clear()
            yield active

    windows = full_windows(active_by_device())
    run_many(connection, stats_device_quarters.insert(), rows)
    _insert(
        connection,
        stats_day_windows,
        ({"start_quarter": s, "quarters": n, "devices": d} for s, n, d in windows.rows()),
    )


def _insert(connection: Connection, table: Table, rows: Iterator[Row]) -> None:
    """Insert ``rows`` in chunks (they may be streamed from a query still being read)."""
    while chunk := list(itertools.islice(rows, _CHUNK)):
        run_many(connection, table.insert(), chunk)
