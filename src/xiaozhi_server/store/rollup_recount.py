"""Recounting the statistics rollups from ``messages``: after an import, and at the end of a
bulk copy, which asks for it instead of keeping them batch by batch.

A first copy of a million upstream rows spent half of its writer's time keeping the rollups'
running totals up to date batch by batch; recounting them once at the end costs a fraction of
that (docs/benchmarks.md). While a request is stored, ``rollups.apply`` changes nothing and
``stats`` counts from ``messages`` (slower, still exact). The request commits with the first
batch that skips the rollups, so a copy killed at any point leaves it behind, and the next
:func:`catch_up` recounts.

The recount goes through the devices a few dozen at a time, reading their messages along
the index on (device, session_id, created_at) with the quarter computed by the database
(``QuarterOf``), and counts them here; a chunk's rows are written before the next is read,
so no sort spans the whole store and memory does not grow with it (a million messages can
be a million (device, agent, quarter) keys). While it runs it holds the store's writer (or
write lock): other writes wait, about 20 s per million messages (docs/benchmarks.md).
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    delete,
    func,
    select,
)

from xiaozhi_server.store.day_windows import WindowDeltas
from xiaozhi_server.store.dialects import QuarterOf, insert_ignoring_duplicates
from xiaozhi_server.store.driver_statements import fetch, insert_rows, stream
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
    rows = [(quarter, *counters) for quarter, counters in sorted(quarters.items())]
    insert_rows(connection, stats_quarters, ("quarter", *QUARTER_COUNTERS), rows)
    columns = ("start_quarter", "quarters", "devices")
    insert_rows(connection, stats_day_windows, columns, list(windows.rows()))


_DEVICES_AT_ONCE = 50
_IN_PART = messages.c.device.in_(bindparam("devices", expanding=True))
_DEVICES = select(messages.c.device).distinct().order_by(messages.c.device)
_AGENT = func.coalesce(messages.c.agent_id, "")
# Every message of some devices, along the index on (device, session_id, created_at): a
# (device, session)'s first row with an agent is where that pair's session starts.
_MESSAGES = (
    select(
        messages.c.device,
        messages.c.session_id,
        _AGENT,
        QuarterOf(messages.c.created_at),
        messages.c.chat_type,
        func.coalesce(audio.c.size_bytes, 0),
    )
    .select_from(messages.outerjoin(audio, audio.c.audio_id == messages.c.audio_id))
    .where(_IN_PART)
    .order_by(messages.c.device, messages.c.session_id, messages.c.created_at)
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
    """Write the rollup rows of these devices; add their counters to ``quarters`` (but
    sessions, counted per session, not per pair) and their active quarters to ``windows``."""
    running: list[tuple[Any, ...]] = []
    spans: list[tuple[Any, ...]] = []
    device_quarters: list[tuple[Any, ...]] = []
    rows = stream(connection, _MESSAGES, {"devices": devices})
    for device, of_device in itertools.groupby(rows, key=itemgetter(0)):
        active: Counter[int] = Counter()
        counted = sorted(_count_device(of_device).items())
        for agent, of_pair in itertools.groupby(counted, key=_agent_of):
            total = [0, 0, 0, 0]  # the pair's running totals
            first = None
            for (_, quarter), counters in of_pair:
                for index, value in enumerate(counters):
                    total[index] += value
                running.append((device, agent, quarter, *total))
                # all devices: sessions are not summed over pairs (one may have two)
                summed = quarters[quarter]
                for index in (0, 2, 3):
                    summed[index] += counters[index]
                active[quarter] += counters[0]
                first = quarter if first is None else first
            spans.append((device, agent, first, quarter))
        device_quarters += [(device, q, n) for q, n in sorted(active.items())]
        windows.add_device(sorted(active))
    insert_rows(connection, stats_running, _RUNNING_COLUMNS, running)
    insert_rows(connection, stats_pairs, _SPAN_COLUMNS, spans)
    insert_rows(connection, stats_device_quarters, _DEVICE_COLUMNS, device_quarters)


_RUNNING_COLUMNS = ("device", "agent", "quarter", *QUARTER_COUNTERS)
_SPAN_COLUMNS = ("device", "agent", "first_quarter", "last_quarter")
_DEVICE_COLUMNS = ("device", "quarter", "messages")


def _agent_of(item: tuple[tuple[str, int], list[int]]) -> str:
    return item[0][0]


def _count_device(rows: Iterator[Sequence[Any]]) -> defaultdict[tuple[str, int], list[int]]:
    """One device's messages (in session order) counted per (agent, quarter)."""
    pairs: defaultdict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    # (session, agent) pairs seen: a set, not "the session changed", since a case-insensitive
    # collation (MariaDB's) may interleave the rows of 'ABC' and 'abc'
    started: set[tuple[str, str]] = set()
    for _, session_id, agent, quarter, chat_type, size in rows:
        counters = pairs[(agent, quarter)]
        counters[0] += 1
        if (session_id, agent) not in started:
            started.add((session_id, agent))
            counters[1] += 1
        if chat_type == 3:
            counters[2] += 1
        counters[3] += int(size)
    return pairs
