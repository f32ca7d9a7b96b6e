"""Recounting the statistics rollups from ``messages``: after an import, and at the end of a
bulk copy, which asks for it instead of keeping them batch by batch.

A first copy of a million upstream rows spent half of its writer's time keeping the rollups'
running totals up to date batch by batch; recounting them once at the end costs a fraction of
that (docs/benchmarks.md). While a request is stored, ``rollups.apply`` changes nothing and
``stats`` counts from ``messages`` (slower, still exact). The request commits with the first
batch that skips the rollups, so a copy killed at any point leaves it behind, and the next
:func:`catch_up` recounts.

The recount goes through the devices a few dozen at a time: the database groups their
messages per agent and quarter (``QuarterOf``) and finds each (device, session)'s first
message along the index on (device, session_id, created_at), so no sort spans the whole
store and memory does not grow with it (a million messages can be a million (device, agent,
quarter) keys).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    case,
    delete,
    func,
    select,
)

from xiaozhi_server.store.day_windows import WindowDeltas
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
from xiaozhi_server.store.writes import chunked

Row = dict[str, Any]
# Per quarter, all pairs: messages, tool calls and audio bytes add up; sessions do not (a
# session with two pairs started once).
_SUMMED_OVER_PAIRS = (0, 2, 3)
_ROLLUPS = (stats_quarters, stats_running, stats_pairs, stats_device_quarters, stats_day_windows)
_PENDING = select(stats_recount.c.id).limit(1)


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
    for table in _ROLLUPS:
        connection.execute(delete(table))
    quarters: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    windows = WindowDeltas()
    devices = list(connection.execute(_DEVICES).scalars())
    for part in chunked(devices, _DEVICES_AT_ONCE):
        _recount_devices(connection, list(part), quarters, windows)
    for quarter, started in connection.execute(_SESSION_STARTS):
        quarters[quarter][1] += int(started)
    rows = [{"quarter": q} | _counters(v) for q, v in sorted(quarters.items())]
    _insert(connection, stats_quarters, rows)
    windows_rows = [{"start_quarter": s, "quarters": n, "devices": d} for s, n, d in windows.rows()]
    _insert(connection, stats_day_windows, windows_rows)


def _counters(values: list[int]) -> Row:
    return dict(zip(QUARTER_COUNTERS, values, strict=True))


_DEVICES_AT_ONCE = 50
_IN_PART = messages.c.device.in_(bindparam("devices", expanding=True))
_DEVICES = select(messages.c.device).distinct().order_by(messages.c.device)
_QUARTER = QuarterOf(messages.c.created_at)
_AGENT = func.coalesce(messages.c.agent_id, "")
# Per (device, agent, quarter), in that order: messages, tool calls, audio bytes.
_COUNTED = (
    select(
        messages.c.device,
        _AGENT,
        _QUARTER,
        func.count(),
        func.sum(case((messages.c.chat_type == 3, 1), else_=0)),
        func.sum(func.coalesce(audio.c.size_bytes, 0)),
    )
    .select_from(messages.outerjoin(audio, audio.c.audio_id == messages.c.audio_id))
    .where(_IN_PART)
    .group_by(messages.c.device, _AGENT, _QUARTER)
    .order_by(messages.c.device, _AGENT, _QUARTER)
)
# Per (device, session): the quarter of its first message and its agents' range. A pair's
# session starts at the pair's first message in it: there, when the range is one agent.
_DEVICE_SESSIONS = (
    select(
        messages.c.device,
        messages.c.session_id,
        QuarterOf(func.min(messages.c.created_at)),
        func.min(_AGENT),
        func.max(_AGENT),
    )
    .where(_IN_PART)
    .group_by(messages.c.device, messages.c.session_id)
)
_AGENT_STARTS = (
    select(_AGENT, QuarterOf(func.min(messages.c.created_at)))
    .where(messages.c.device == bindparam("device"), messages.c.session_id == bindparam("session"))
    .group_by(_AGENT)
)
_FIRST_PER_SESSION = (
    select(func.min(messages.c.created_at).label("first"))
    .group_by(messages.c.session_id)
    .subquery()
)
_SESSION_STARTS = select(QuarterOf(_FIRST_PER_SESSION.c.first), func.count()).group_by(
    QuarterOf(_FIRST_PER_SESSION.c.first)
)


def _recount_devices(
    connection: Connection,
    devices: list[str],
    quarters: defaultdict[int, list[int]],
    windows: WindowDeltas,
) -> None:
    """Write the running totals, spans and quarters of these devices' pairs; add their
    counters to ``quarters`` (but sessions, counted per session, not per pair) and their
    active quarters to ``windows``."""
    starts = _pair_starts(connection, devices)
    running: list[Row] = []
    spans: list[Row] = []
    active: defaultdict[str, Counter[int]] = defaultdict(Counter)
    rows = connection.execute(_COUNTED, {"devices": devices})
    for (device, agent), group in itertools.groupby(rows, key=itemgetter(0, 1)):
        total, first, quarter = [0, 0, 0, 0], None, 0
        for _, _, quarter, count, tools, size in group:
            values = [int(count), starts[(device, agent, quarter)], int(tools), int(size)]
            total = [a + b for a, b in zip(total, values, strict=True)]
            for index in _SUMMED_OVER_PAIRS:
                quarters[quarter][index] += values[index]
            active[device][quarter] += values[0]
            first = quarter if first is None else first
            running.append(
                {"device": device, "agent": agent, "quarter": quarter} | _counters(total)
            )
        spans.append(
            {"device": device, "agent": agent, "first_quarter": first, "last_quarter": quarter}
        )
    _insert(connection, stats_running, running)
    _insert(connection, stats_pairs, spans)
    _insert(
        connection,
        stats_device_quarters,
        [
            {"device": device, "quarter": q, "messages": n}
            for device, counts in active.items()
            for q, n in sorted(counts.items())
        ],
    )
    for counts in active.values():
        windows.add_device(sorted(counts))


def _pair_starts(connection: Connection, devices: list[str]) -> Counter[tuple[str, str, int]]:
    """Sessions started per (device, agent, quarter) for these devices."""
    starts: Counter[tuple[str, str, int]] = Counter()
    for device, session, quarter, low, high in connection.execute(
        _DEVICE_SESSIONS, {"devices": devices}
    ):
        if low == high:
            starts[(device, low, quarter)] += 1
            continue
        mixed = {"device": device, "session": session}
        for agent, agent_quarter in connection.execute(_AGENT_STARTS, mixed):
            starts[(device, agent, agent_quarter)] += 1
    return starts


def _insert(connection: Connection, table: Table, rows: list[Row]) -> None:
    run_many(connection, _INSERTS[table.name], rows)


# Built once: driver_statements compiles each statement object once.
_INSERTS = {table.name: table.insert() for table in _ROLLUPS}
