"""Sessions and devices grow with the messages a transaction inserted.

Counters are added to, never recounted, on this path: a recount reads every message of a
session or device, which grows without bound (only deletes recount: ``writes.refresh_*``).
Adding is exact because it runs in the transaction that inserted the messages, from
exactly the rows it inserted.

On SQLite the new messages are one id range (``sqlite_writes.insert_messages``), so each
table grows with one ``INSERT … SELECT … GROUP BY … ON CONFLICT DO UPDATE`` over that
range: the grouping runs in SQLite, not in Python per row. Elsewhere the deltas are
computed here and merged with the portable statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from xiaozhi_server.store import sqlite_writes, writes
from xiaozhi_server.store.tables import devices, sessions
from xiaozhi_server.store.types import from_utc_text

Row = dict[str, Any]


def grow(
    connection: Connection,
    rows: Sequence[tuple[Any, ...]],
    positions: Sequence[int],
    ids: Sequence[int],
    now: datetime,
    returning: bool = True,
) -> tuple[list[Row], list[Row]]:
    """Add the messages inserted (``rows[at]`` for ``at`` in ``positions``, stored under
    ``ids``; rows in ``writes.MESSAGE_COLUMNS`` order) to their sessions and devices,
    creating those as needed: a session's device and agent, and a device's agent, are
    filled in, never replaced. Returns the sessions' and devices' rows if ``returning``."""
    if not ids:
        return [], []
    if writes.fast(connection):
        return sqlite_writes.grow_aggregates(connection, min(ids), max(ids), now, returning)
    new = [dict(zip(writes.MESSAGE_COLUMNS, rows[at], strict=True)) for at in positions]
    owned = writes.sessions_with_device(connection, sorted({r["session_id"] for r in new}))
    grown_sessions = _grow_sessions(connection, _session_deltas(new), now)
    grown_devices = _grow_devices(connection, _device_deltas(new, owned), now)
    return grown_sessions, grown_devices


def _grow_sessions(connection: Connection, deltas: list[Row], now: datetime) -> list[Row]:
    owners = [{k: d[k] for k in ("session_id", "device", "agent_id")} for d in deltas]
    writes.merge_rows(connection, sessions, owners, now, writes.SESSION_FILL_ONLY)
    return writes.refresh_sessions(connection, [d["session_id"] for d in deltas], now)


def _grow_devices(connection: Connection, deltas: list[Row], now: datetime) -> list[Row]:
    owners = [{"mac": d["mac"], "agent_id": d["agent_id"]} for d in deltas]
    writes.merge_rows(connection, devices, owners, now, writes.DEVICE_FILL_ONLY)
    writes.add_to_devices(
        connection,
        [
            {"mac": d["mac"], "messages": d["messages"], "sessions": d["sessions"]}
            | {"first": from_utc_text(d["first"]), "last": from_utc_text(d["last"])}
            for d in deltas
        ],
        now,
    )
    return writes.rows_by_key(connection, devices, [d["mac"] for d in deltas])


def _session_deltas(new_messages: list[Row]) -> list[Row]:
    """Per session: its device and agent (the first known), new messages and their span."""
    deltas: dict[str, Row] = {}
    for row in new_messages:
        delta = deltas.get(row["session_id"])
        if delta is None:
            deltas[row["session_id"]] = {
                "session_id": row["session_id"],
                "device": row["device"],
                "agent_id": row["agent_id"],
                "messages": 1,
                "first": row["created_at"],
                "last": row["created_at"],
            }
            continue
        delta["messages"] += 1
        delta["agent_id"] = delta["agent_id"] or row["agent_id"]
        delta["first"] = min(delta["first"], row["created_at"])
        delta["last"] = max(delta["last"], row["created_at"])
    return list(deltas.values())


def _device_deltas(new_messages: list[Row], owned: set[str]) -> list[Row]:
    """Per device: its agent (the first known), new messages, sessions it gained (those
    that had no device yet), and the time span they cover."""
    deltas: dict[str, Row] = {}
    for row in new_messages:
        delta = deltas.setdefault(
            row["device"],
            {
                "mac": row["device"],
                "agent_id": row["agent_id"],
                "messages": 0,
                "new_sessions": set(),
                "first": row["created_at"],
                "last": row["created_at"],
            },
        )
        delta["messages"] += 1
        delta["agent_id"] = delta["agent_id"] or row["agent_id"]
        if row["session_id"] not in owned:
            delta["new_sessions"].add(row["session_id"])
        delta["first"] = min(delta["first"], row["created_at"])
        delta["last"] = max(delta["last"], row["created_at"])
    return [d | {"sessions": len(d.pop("new_sessions"))} for d in deltas.values()]
