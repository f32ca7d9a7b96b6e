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


# The new messages are the id range [first, last] (insert_messages). Device and agent of a
# session are filled in, never replaced; max() picks a known agent over NULL.
_GROW_SESSIONS = """
INSERT INTO sessions (session_id, device, agent_id, message_count, first_message_at,
                      last_message_at, updated_at)
SELECT session_id, min(device), max(agent_id), count(*), min(created_at), max(created_at), ?
FROM messages WHERE id BETWEEN ? AND ? GROUP BY session_id
ON CONFLICT (session_id) DO UPDATE SET
    device = coalesce(sessions.device, excluded.device),
    agent_id = coalesce(sessions.agent_id, excluded.agent_id),
    message_count = sessions.message_count + excluded.message_count,
    first_message_at = min(coalesce(sessions.first_message_at, excluded.first_message_at),
                           excluded.first_message_at),
    last_message_at = max(coalesce(sessions.last_message_at, excluded.last_message_at),
                          excluded.last_message_at),
    updated_at = excluded.updated_at
"""

# Runs before _GROW_SESSIONS: a session counts for a device when it had no device yet
# (looked up once per session and device, not once per message).
_GROW_DEVICES = """
WITH new AS (
    SELECT device, session_id, max(agent_id) AS agent_id, count(*) AS messages,
           min(created_at) AS first, max(created_at) AS last
    FROM messages WHERE id BETWEEN ? AND ? GROUP BY device, session_id
)
INSERT INTO devices (mac, agent_id, message_count, session_count, first_seen_at,
                     last_seen_at, updated_at)
SELECT device, max(agent_id), sum(messages),
       sum(NOT EXISTS (SELECT 1 FROM sessions s
                       WHERE s.session_id = new.session_id AND s.device IS NOT NULL)),
       min(first), max(last), ?
FROM new WHERE true GROUP BY device
ON CONFLICT (mac) DO UPDATE SET
    agent_id = coalesce(devices.agent_id, excluded.agent_id),
    message_count = devices.message_count + excluded.message_count,
    session_count = devices.session_count + excluded.session_count,
    first_seen_at = min(coalesce(devices.first_seen_at, excluded.first_seen_at),
                        excluded.first_seen_at),
    last_seen_at = max(coalesce(devices.last_seen_at, excluded.last_seen_at),
                       excluded.last_seen_at),
    updated_at = excluded.updated_at
"""


def grow_aggregates(
    connection: Connection, first: int, last: int, now: datetime, returning: bool
) -> tuple[list[Row], list[Row]]:
    """Add the messages with ids first…last (all inserted by this transaction) to their
    devices and sessions; return those rows if ``returning`` (for events)."""
    cursor = dbapi(connection).cursor()
    stamp = utc_text(now)
    cursor.execute(_GROW_DEVICES, (first, last, stamp))
    cursor.execute(_GROW_SESSIONS, (stamp, first, last))
    if not returning:
        return [], []
    # Read back rather than RETURNING: an upsert's RETURNING cost ~4x more here.
    return (
        _rows(cursor, _GROWN_SESSIONS, (first, last), sessions),
        _rows(cursor, _GROWN_DEVICES, (first, last), devices),
    )


_GROWN_SESSIONS = (
    "SELECT * FROM sessions WHERE session_id IN"
    " (SELECT session_id FROM messages WHERE id BETWEEN ? AND ?)"
)
_GROWN_DEVICES = (
    "SELECT * FROM devices WHERE mac IN (SELECT device FROM messages WHERE id BETWEEN ? AND ?)"
)


def _rows(cursor: Any, statement: str, parameters: tuple[Any, ...], table: Table) -> list[Row]:
    cursor.execute(statement, parameters)
    names = [column[0] for column in cursor.description]
    times = _time_columns(table)
    return [_named(names, row, times) for row in cursor.fetchall()]


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
