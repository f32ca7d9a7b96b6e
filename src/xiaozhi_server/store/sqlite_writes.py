"""The write path's hot statements in SQLite's own SQL, on the driver's connection.

Through SQLAlchemy each statement cost 0.1–0.4 ms of Python (compiling the cache key,
processing every bound and returned value); a report's transaction ran a dozen of them.
Here each is one ``execute`` or ``executemany`` of a fixed text, and aggregates grow with
one upsert per table that returns the rows the events need. ``writes.py`` calls these on
SQLite and keeps the portable statements for MySQL/MariaDB and PostgreSQL.

Everything here runs inside the writer's transaction, which began IMMEDIATE
(``sqlite_writer.writer_engine``): the write lock is held from the first statement.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table

from xiaozhi_server.store.tables import devices, sessions
from xiaozhi_server.store.types import UtcDateTime, from_utc_text, utc_text

Row = dict[str, Any]
# UPSERT (3.24) and RETURNING (3.35); an older library gets the portable statements.
AVAILABLE = sqlite3.sqlite_version_info >= (3, 35, 0)
# A multi-row VALUES list stays far below SQLite's 32,766 bound parameters.
_ROWS_PER_STATEMENT = 500


def dbapi(connection: Connection) -> Any:
    """The driver's own connection under ``connection`` (same transaction)."""
    return connection.connection.driver_connection


def insert_messages(
    connection: Connection, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> tuple[Sequence[int], Sequence[int]]:
    """Insert rows of ``columns`` (the natural key first) skipping stored natural keys;
    return the positions in ``rows`` of the rows inserted, and their ids.

    One executemany and no RETURNING (the driver cannot return rows from executemany):
    the ids are read from the range the insert used. The write lock is held, so a new
    row's id is the largest id plus one and nobody else inserts meanwhile: the n rows
    inserted hold the n ids up to last_insert_rowid(), in order. When every row is new
    (a first copy), both answers are ranges, which cost nothing to send back.
    """
    statement = (
        f"INSERT INTO messages ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        " ON CONFLICT DO NOTHING"
    )
    cursor = dbapi(connection).cursor()
    cursor.executemany(statement, rows)
    inserted = cursor.rowcount
    if inserted <= 0:
        return [], []
    last = cursor.execute("SELECT last_insert_rowid()").fetchone()[0]
    first = last - inserted + 1
    if inserted == len(rows):
        return range(inserted), range(first, last + 1)
    found = dict(cursor.execute("SELECT natural_key, id FROM messages WHERE id >= ?", (first,)))
    positions = [at for at, row in enumerate(rows) if row[0] in found]
    return positions, [found[rows[at][0]] for at in positions]


def sessions_with_device(connection: Connection, session_ids: Sequence[str]) -> set[str]:
    """Which of these sessions already belong to a device."""
    cursor = dbapi(connection).cursor()
    owned: set[str] = set()
    for part in _parts(session_ids, 900):
        marks = ", ".join("?" * len(part))
        owned.update(
            row[0]
            for row in cursor.execute(
                f"SELECT session_id FROM sessions WHERE session_id IN ({marks})"
                " AND device IS NOT NULL",
                part,
            )
        )
    return owned


_GROW_SESSIONS = """
INSERT INTO sessions (session_id, device, agent_id, message_count, first_message_at,
                      last_message_at, updated_at)
VALUES {values}
ON CONFLICT (session_id) DO UPDATE SET
    device = coalesce(sessions.device, excluded.device),
    agent_id = coalesce(sessions.agent_id, excluded.agent_id),
    message_count = sessions.message_count + excluded.message_count,
    first_message_at = min(coalesce(sessions.first_message_at, excluded.first_message_at),
                           excluded.first_message_at),
    last_message_at = max(coalesce(sessions.last_message_at, excluded.last_message_at),
                          excluded.last_message_at),
    updated_at = excluded.updated_at
RETURNING *
"""

_GROW_DEVICES = """
INSERT INTO devices (mac, agent_id, message_count, session_count, first_seen_at,
                     last_seen_at, updated_at)
VALUES {values}
ON CONFLICT (mac) DO UPDATE SET
    agent_id = coalesce(devices.agent_id, excluded.agent_id),
    message_count = devices.message_count + excluded.message_count,
    session_count = devices.session_count + excluded.session_count,
    first_seen_at = min(coalesce(devices.first_seen_at, excluded.first_seen_at),
                        excluded.first_seen_at),
    last_seen_at = max(coalesce(devices.last_seen_at, excluded.last_seen_at),
                       excluded.last_seen_at),
    updated_at = excluded.updated_at
RETURNING *
"""


def grow_sessions(connection: Connection, deltas: list[Row], now: datetime) -> list[Row]:
    """Add each delta (session_id, device, agent_id, messages, first, last) to its session,
    creating it if new; device and agent are only filled in, never replaced. Returns the
    sessions' rows as they are now."""
    stamp = utc_text(now)
    values = [
        (d["session_id"], d["device"], d["agent_id"], d["messages"], d["first"], d["last"], stamp)
        for d in deltas
    ]
    return _upsert(connection, _GROW_SESSIONS, values, sessions)


def grow_devices(connection: Connection, deltas: list[Row], now: datetime) -> list[Row]:
    """Add each delta (mac, agent_id, messages, sessions, first, last) to its device,
    creating it if new; the agent is only filled in. Returns the devices' rows."""
    stamp = utc_text(now)
    values = [
        (d["mac"], d["agent_id"], d["messages"], d["sessions"], d["first"], d["last"], stamp)
        for d in deltas
    ]
    return _upsert(connection, _GROW_DEVICES, values, devices)


def _upsert(
    connection: Connection, template: str, values: list[tuple[Any, ...]], table: Table
) -> list[Row]:
    cursor = dbapi(connection).cursor()
    rows: list[Row] = []
    times = _time_columns(table)
    for part in _parts(values, _ROWS_PER_STATEMENT):
        marks = "(" + ", ".join("?" * len(part[0])) + ")"
        cursor.execute(
            template.format(values=", ".join([marks] * len(part))),
            [value for row in part for value in row],
        )
        names = [column[0] for column in cursor.description]
        rows.extend(_named(names, row, times) for row in cursor.fetchall())
    return rows


def _named(names: list[str], values: Iterable[Any], times: frozenset[str]) -> Row:
    """A returned row by column name, times as aware datetimes (as SQLAlchemy reads them)."""
    row = dict(zip(names, values, strict=True))
    for name in times:
        text = row[name]
        if text is not None:
            row[name] = from_utc_text(text)
    return row


@functools.cache
def _time_columns(table: Table) -> frozenset[str]:
    return frozenset(c.name for c in table.columns if isinstance(c.type, UtcDateTime))


def _parts(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
