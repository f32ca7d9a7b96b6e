"""Statistics rollups, changed only through :func:`apply` (and recounted from scratch by
store/rollup_recount.py, after an import or a bulk copy).

Every path that changes ``messages`` (insert, filling agent or audio, audio arriving or going,
deletes, erasure, retention) calls, in the same transaction:

    before = rollups.snapshot(connection, ids)          # rows about to change or go
    ... change messages / audio ...
    rollups.apply(connection, removed=before, added=rollups.snapshot(connection, ids))

That transaction is a ``Store.run_write``, which on MariaDB / PostgreSQL takes the store's
write lock (store/write_lock.py) before anything else: deltas are then computed against what
the previous writer committed, and two writers never add to the same rollup rows at once.

A row is a message as the statistics see it: id, session_id, device, agent_id, chat_type,
created_at and audio_bytes (the size of the audio it references, 0 if none is stored).
Counted per quarter: messages, tool calls (chat_type 3), audio bytes and sessions *started*
(a session's earliest message; per (device, agent) pair, the pair's earliest message in it).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, func, select, update

from xiaozhi_server.store import rollup_recount
from xiaozhi_server.store.day_windows import WindowDeltas
from xiaozhi_server.store.dialects import (
    insert_adding,
    insert_ignoring_duplicates,
    insert_widening,
)
from xiaozhi_server.store.driver_statements import fetch, run_many
from xiaozhi_server.store.quarters import DAY_LENGTHS, quarter_of
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
from xiaozhi_server.store.writes import chunked

Row = dict[str, Any]
Pair = tuple[str, str]
_REACH = max(DAY_LENGTHS)

_SNAPSHOT = select(
    messages.c.id,
    messages.c.session_id,
    messages.c.device,
    messages.c.agent_id,
    messages.c.chat_type,
    messages.c.created_at,
    func.coalesce(audio.c.size_bytes, 0).label("audio_bytes"),
).select_from(messages.outerjoin(audio, audio.c.audio_id == messages.c.audio_id))


def snapshot(connection: Connection, message_ids: Sequence[int]) -> list[Row]:
    """The messages with these ids as the statistics count them now."""
    return _snapshot(connection, messages.c.id, message_ids)


def snapshot_audio_users(connection: Connection, audio_ids: Sequence[str]) -> list[Row]:
    """The messages that reference these audio ids, as the statistics count them now."""
    return _snapshot(connection, messages.c.audio_id, audio_ids)


_AUDIO_SIZES = select(audio.c.audio_id, audio.c.size_bytes).where(
    audio.c.audio_id.in_(bindparam("keys", expanding=True))
)


def with_audio_bytes(connection: Connection, rows: Sequence[Row]) -> list[Row]:
    """Message rows just written (with ids), as the statistics count them."""
    sizes: dict[str, int] = {}
    wanted = sorted({row["audio_id"] for row in rows if row["audio_id"]})
    for part in chunked(wanted):
        found = fetch(connection, _AUDIO_SIZES, {"keys": part})
        sizes.update((row["audio_id"], row["size_bytes"]) for row in found)
    return [row | {"audio_bytes": sizes.get(row["audio_id"], 0)} for row in rows]


def _snapshot(connection: Connection, column: Any, keys: Sequence[Any]) -> list[Row]:
    rows: list[Row] = []
    statement = _SNAPSHOTS[column.name]
    for part in chunked(list(keys)):
        rows.extend(fetch(connection, statement, {"keys": part}))
    return rows


_SNAPSHOTS = {
    column.name: _SNAPSHOT.where(column.in_(bindparam("keys", expanding=True)))
    for column in (messages.c.id, messages.c.audio_id)
}


class Delta:
    """Counter changes per quarter, per (device, agent, quarter) and per (device, quarter)."""

    def __init__(self) -> None:
        self.quarters: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.pairs: defaultdict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        self.devices: defaultdict[tuple[str, int], int] = defaultdict(int)

    def add_message(self, row: Row, sign: int) -> None:
        """Count (sign 1) or uncount (sign -1) one message row."""
        quarter = quarter_of(row["created_at"])
        values = (sign, 0, sign if row["chat_type"] == 3 else 0, sign * row["audio_bytes"])
        for counters in (
            self.quarters[quarter],
            self.pairs[(row["device"], row["agent_id"] or "", quarter)],
        ):
            for index, value in enumerate(values):
                counters[index] += value
        self.devices[(row["device"], quarter)] += sign

    def add_start(self, quarter: int, pair: Pair | None, sign: int) -> None:
        """Count a session start in ``quarter`` (all devices when ``pair`` is None)."""
        counters = self.quarters[quarter] if pair is None else self.pairs[(*pair, quarter)]
        counters[1] += sign


def apply(connection: Connection, removed: Iterable[Row], added: Iterable[Row]) -> None:
    """Move the rollups from counting ``removed`` to counting ``added``.

    Call after ``messages`` (and ``audio``) hold the new state, in the same transaction. A
    message that changed appears in both (old row removed, new row added); a row may pass
    through several versions in one call, as long as each version removed was added before.
    """
    removed, added = list(removed), list(added)
    if (not removed and not added) or rollup_recount.pending(connection):
        return
    delta = Delta()
    for row in removed:
        delta.add_message(row, -1)
    for row in added:
        delta.add_message(row, 1)
    _move_session_starts(connection, delta, removed, added)
    _write(connection, delta)


_SESSION_ROWS = select(
    messages.c.id,
    messages.c.session_id,
    messages.c.device,
    messages.c.agent_id,
    messages.c.created_at,
).where(messages.c.session_id.in_(bindparam("keys", expanding=True)))


# Each (session, device, agent)'s earliest message other than those just inserted: all that
# the starts before an insert depend on (a session's other rows would only be counted).
_EARLIER_STARTS = (
    select(
        messages.c.session_id,
        messages.c.device,
        messages.c.agent_id,
        func.min(messages.c.created_at).label("created_at"),
    )
    .where(
        messages.c.session_id.in_(bindparam("keys", expanding=True)),
        messages.c.id.not_in(bindparam("ids", expanding=True)),
    )
    .group_by(messages.c.session_id, messages.c.device, messages.c.agent_id)
)


def _move_session_starts(
    connection: Connection, delta: Delta, removed: list[Row], added: list[Row]
) -> None:
    """Sessions whose start moved: counted -1 where they started before, +1 where now."""
    if removed:
        before, after = _rows_before_and_after(connection, removed, added)
    else:
        before = _earlier_starts(connection, added)
        after = before + Counter(_start_key(row) for row in added)
    old, new = _starts(before), _starts(after)
    for key in old.keys() | new.keys():
        if old.get(key) != new.get(key):
            pair = None if key[1] is None else (key[1], key[2])
            if key in old:
                delta.add_start(old[key], pair, -1)
            if key in new:
                delta.add_start(new[key], pair, 1)


def _rows_before_and_after(
    connection: Connection, removed: list[Row], added: list[Row]
) -> tuple[Counter[tuple[Any, ...]], Counter[tuple[Any, ...]]]:
    """Every row of the sessions concerned, before and after the change."""
    after: Counter[tuple[Any, ...]] = Counter()
    for part in chunked(sorted({row["session_id"] for row in removed + added})):
        for row in fetch(connection, _SESSION_ROWS, {"keys": part}):
            after[_start_key(row)] += 1
    before = Counter(after)
    before.subtract(_start_key(row) for row in added)
    before.update(_start_key(row) for row in removed)
    return before, after


def _earlier_starts(connection: Connection, added: list[Row]) -> Counter[tuple[Any, ...]]:
    """Before an insert of ``added``: per (session, device, agent), its earliest other row."""
    ids_by_session: defaultdict[str, list[int]] = defaultdict(list)
    for row in added:
        ids_by_session[row["session_id"]].append(row["id"])
    earlier: Counter[tuple[Any, ...]] = Counter()
    for part in chunked(sorted(ids_by_session)):
        ids = [id_ for session_id in part for id_ in ids_by_session[session_id]]
        for row in fetch(connection, _EARLIER_STARTS, {"keys": part, "ids": ids}):
            earlier[_start_key(row | {"id": None})] += 1
    return earlier


def _start_key(row: Any) -> tuple[Any, ...]:
    return (row["id"], row["session_id"], row["device"], row["agent_id"] or "", row["created_at"])


def _starts(rows: Counter[tuple[Any, ...]]) -> dict[tuple[Any, ...], int]:
    """Start quarter per session (key (session, None, None)) and per (session, device, agent)."""
    first: dict[tuple[Any, ...], datetime] = {}
    for (_, session_id, device, agent, created_at), count in rows.items():
        if count <= 0:
            continue
        for key in ((session_id, None, None), (session_id, device, agent)):
            if key not in first or created_at < first[key]:
                first[key] = created_at
    return {key: quarter_of(moment) for key, moment in first.items()}


def _write(connection: Connection, delta: Delta) -> None:
    quarters = {q: v for q, v in delta.quarters.items() if any(v)}
    pairs = {k: v for k, v in delta.pairs.items() if any(v)}
    devices = {k: v for k, v in delta.devices.items() if v}
    _add_quarters(connection, quarters)
    _add_pairs(connection, pairs)
    _add_device_quarters(connection, devices)


def _counter_values(values: list[int]) -> Row:
    return {f"d_{name}": value for name, value in zip(QUARTER_COUNTERS, values, strict=True)}


_ZEROS = dict.fromkeys(QUARTER_COUNTERS, 0)


def _add_quarters(connection: Connection, quarters: dict[int, list[int]]) -> None:
    run_many(
        connection,
        insert_adding(connection.dialect, stats_quarters, ("quarter",)),
        [
            {"quarter": q} | dict(zip(QUARTER_COUNTERS, v, strict=True))
            for q, v in sorted(quarters.items())
        ],
    )


_PAIR = and_(
    stats_running.c.device == bindparam("k_device"), stats_running.c.agent == bindparam("k_agent")
)
_ADD_RUNNING = (
    update(stats_running)
    .where(_PAIR, stats_running.c.quarter >= bindparam("k_quarter"))
    .values({name: stats_running.c[name] + bindparam(f"d_{name}") for name in QUARTER_COUNTERS})
)
_PREVIOUS = (
    select(*(stats_running.c[name] for name in QUARTER_COUNTERS))
    .where(_PAIR, stats_running.c.quarter < bindparam("k_quarter"))
    .order_by(stats_running.c.quarter.desc())
    .limit(1)
)
_EXISTING_RUNNING = select(
    stats_running.c.device, stats_running.c.agent, stats_running.c.quarter
).where(
    stats_running.c.device.in_(bindparam("devices", expanding=True)),
    stats_running.c.quarter.in_(bindparam("quarters", expanding=True)),
)


def _add_pairs(connection: Connection, pairs: dict[tuple[str, str, int], list[int]]) -> None:
    """Running totals: a row for each (pair, quarter) written, then the delta added to it and
    to every later row of the pair (usually none: writes come in time order)."""
    if not pairs:
        return
    keys = sorted(pairs)
    _widen_pairs(connection, keys)
    existing: set[tuple[str, str, int]] = set()
    for part in chunked(keys):
        params = {"devices": sorted({k[0] for k in part}), "quarters": sorted({k[2] for k in part})}
        found = fetch(connection, _EXISTING_RUNNING, params)
        existing.update((r["device"], r["agent"], r["quarter"]) for r in found)
    fresh = []
    for device, agent, quarter in keys:
        if (device, agent, quarter) in existing:
            continue
        pair = {"k_device": device, "k_agent": agent, "k_quarter": quarter}
        previous = fetch(connection, _PREVIOUS, pair)
        values = previous[0] if previous else _ZEROS
        fresh.append({"device": device, "agent": agent, "quarter": quarter} | values)
    run_many(connection, insert_ignoring_duplicates(connection.dialect, stats_running), fresh)
    run_many(
        connection,
        _ADD_RUNNING,
        [
            {"k_device": d, "k_agent": a, "k_quarter": q} | _counter_values(pairs[(d, a, q)])
            for d, a, q in keys
        ],
    )


def _widen_pairs(connection: Connection, keys: list[tuple[str, str, int]]) -> None:
    spans: dict[Pair, list[int]] = {}
    for device, agent, quarter in keys:
        span = spans.setdefault((device, agent), [quarter, quarter])
        span[0], span[1] = min(span[0], quarter), max(span[1], quarter)
    rows = [
        {"device": d, "agent": a, "first_quarter": low, "last_quarter": high}
        for (d, a), (low, high) in spans.items()
    ]
    run_many(
        connection, insert_widening(connection.dialect, stats_pairs, ("device", "agent")), rows
    )


_dq = stats_device_quarters.c
_DEVICES = _dq.device.in_(bindparam("devices", expanding=True))
_IN_SPAN = select(_dq.device, _dq.quarter, _dq.messages).where(
    _DEVICES, _dq.quarter >= bindparam("low"), _dq.quarter <= bindparam("high")
)
# Outside the batch's span only each device's nearest active quarter on either side can
# border a quarter that switches (day_windows.WindowDeltas.switch), and only within _REACH.
_NEAREST_BEFORE = (
    select(_dq.device, func.max(_dq.quarter).label("quarter"))
    .where(_DEVICES, _dq.quarter < bindparam("low"), _dq.quarter >= bindparam("limit"))
    .where(_dq.messages > 0)
    .group_by(_dq.device)
)
_NEAREST_AFTER = (
    select(_dq.device, func.min(_dq.quarter).label("quarter"))
    .where(_DEVICES, _dq.quarter > bindparam("high"), _dq.quarter <= bindparam("limit"))
    .where(_dq.messages > 0)
    .group_by(_dq.device)
)
_DEVICE_QUARTER = and_(
    _dq.device == bindparam("k_device"),
    _dq.quarter == bindparam("k_quarter"),
)
_DROP_IDLE = delete(stats_device_quarters).where(_DEVICE_QUARTER, _dq.messages <= 0)


def _add_device_quarters(connection: Connection, changes: dict[tuple[str, int], int]) -> None:
    """Messages per (device, quarter); quarters turning active or idle move the day windows."""
    if not changes:
        return
    counts = _neighbourhood(connection, changes)
    by_device: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for (device, quarter), step in sorted(changes.items()):
        by_device[device].append((quarter, step))
    windows = WindowDeltas()
    for device, steps in by_device.items():
        here = counts.get(device, {})
        active = sorted(q for q, n in here.items() if n > 0)
        for quarter, step in steps:
            was = here.get(quarter, 0)
            if _switches(was, step):
                windows.switch(active, quarter, 1 if was + step > 0 else -1)
    keys = sorted(changes)
    run_many(
        connection,
        insert_adding(connection.dialect, stats_device_quarters, ("device", "quarter")),
        [{"device": d, "quarter": q, "messages": changes[(d, q)]} for d, q in keys],
    )
    run_many(connection, _DROP_IDLE, [{"k_device": d, "k_quarter": q} for d, q in keys])
    _add_windows(connection, windows)


def _neighbourhood(
    connection: Connection, changes: dict[tuple[str, int], int]
) -> dict[str, dict[int, int]]:
    """Per device: its messages per quarter in the span of ``changes``, and, for a device with
    a quarter turning active or idle, its nearest active quarter within _REACH before and
    after that span (as one message: only being active matters there). Reading the whole
    reach instead cost a first copy ~100 rows per device and batch; a report in a quarter
    already active needs neither neighbour."""
    low, high = min(q for _, q in changes), max(q for _, q in changes)
    counts: dict[str, dict[int, int]] = defaultdict(dict)
    for part in chunked(sorted({device for device, _ in changes})):
        for row in fetch(connection, _IN_SPAN, {"devices": part, "low": low, "high": high}):
            counts[row["device"]][row["quarter"]] = row["messages"]
    switching = {d for (d, q), step in changes.items() if _switches(counts[d].get(q, 0), step)}
    for part in chunked(sorted(switching)):
        span = {"devices": part, "low": low, "high": high}
        for statement, limit in ((_NEAREST_BEFORE, low - _REACH), (_NEAREST_AFTER, high + _REACH)):
            for row in fetch(connection, statement, span | {"limit": limit}):
                counts[row["device"]][row["quarter"]] = 1
    return counts


def _switches(was: int, step: int) -> bool:
    """True if a quarter holding ``was`` messages turns active or idle by ``step``."""
    return (was > 0) != (was + step > 0)


def _add_windows(connection: Connection, windows: WindowDeltas) -> None:
    run_many(
        connection,
        insert_adding(connection.dialect, stats_day_windows, ("start_quarter", "quarters")),
        [{"start_quarter": s, "quarters": n, "devices": d} for s, n, d in windows.rows()],
    )
