"""Writes used by ingest, each inside the caller's transaction.

Synchronous on purpose: a whole batch runs as one unit of work (in a writer thread for
SQLite, through ``run_sync`` elsewhere) instead of one event-loop round trip per statement.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, bindparam, case, func, or_, select, update

from xiaozhi_server.store import sqlite_writes
from xiaozhi_server.store.dialects import insert_ignoring_duplicates
from xiaozhi_server.store.tables import agents, audio, devices, messages, sessions
from xiaozhi_server.store.types import from_utc_text

Row = dict[str, Any]
# A message tells which device and agent a session belongs to, but never re-binds it.
SESSION_FILL_ONLY = frozenset({"device", "agent_id"})
DEVICE_FILL_ONLY = frozenset({"agent_id"})
# Keeps every IN (...) under SQLite's and drivers' parameter limits.
CHUNK = 500
# A prepared message row (ingest/prepare.py): these columns of ``messages``, in this order,
# times as UTC text (types.utc_text).
MESSAGE_COLUMNS = (
    "natural_key",
    "source",
    "source_id",
    "device",
    "agent_id",
    "session_id",
    "chat_type",
    "content",
    "speaker",
    "audio_id",
    "created_at",
    "ingested_at",
    "updated_at",
)
_TIMES = [MESSAGE_COLUMNS.index(name) for name in ("created_at", "ingested_at", "updated_at")]


def chunked(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """``values`` in slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def find_messages(connection: Connection, keys: Sequence[str]) -> dict[str, Row]:
    """Stored messages by natural key (id and the fields a later source may fill in)."""
    found: dict[str, Row] = {}
    for part in chunked(keys):
        result = connection.execute(_FIND_MESSAGES, {"keys": list(part)})
        found.update((row.natural_key, dict(row._mapping)) for row in result)
    return found


_FIND_MESSAGES = select(
    messages.c.natural_key,
    messages.c.id,
    messages.c.source_id,
    messages.c.agent_id,
    messages.c.audio_id,
).where(messages.c.natural_key.in_(bindparam("keys", expanding=True)))


def insert_message_rows(
    connection: Connection, rows: Sequence[tuple[Any, ...]]
) -> tuple[Sequence[int], Sequence[int]]:
    """Insert prepared rows (MESSAGE_COLUMNS), skipping natural keys already stored; return
    the positions in ``rows`` of the rows inserted, and their ids."""
    if not rows:
        return [], []
    if fast(connection):
        return sqlite_writes.insert_messages(connection, MESSAGE_COLUMNS, rows)
    named = [_with_times(dict(zip(MESSAGE_COLUMNS, row, strict=True))) for row in rows]
    ids = {row["natural_key"]: row["id"] for row in insert_messages(connection, named)}
    inserted = [at for at, row in enumerate(rows) if row[0] in ids]
    return inserted, [ids[rows[at][0]] for at in inserted]


def _with_times(row: Row) -> Row:
    for at in _TIMES:
        name = MESSAGE_COLUMNS[at]
        row[name] = from_utc_text(row[name])
    return row


def fast(connection: Connection) -> bool:
    """True where the hot statements run as SQLite's own SQL (``sqlite_writes``)."""
    return connection.dialect.name == "sqlite" and sqlite_writes.AVAILABLE


def insert_messages(connection: Connection, rows: list[Row]) -> list[Row]:
    """Insert messages, skipping natural keys already stored; return the inserted rows with ids."""
    if not rows:
        return []
    statement = insert_ignoring_duplicates(connection.dialect, messages)
    if connection.dialect.insert_executemany_returning:
        # One round trip: the database says which rows it inserted and their ids.
        result = connection.execute(
            statement.returning(messages.c.natural_key, messages.c.id), rows
        )
        ids = {row.natural_key: row.id for row in result}
    else:
        before = find_messages(connection, [row["natural_key"] for row in rows])
        connection.execute(statement, rows)
        after = find_messages(connection, [row["natural_key"] for row in rows])
        ids = {key: row["id"] for key, row in after.items() if key not in before}
    return [{**row, "id": ids[row["natural_key"]]} for row in rows if row["natural_key"] in ids]


def fill_message_fields(connection: Connection, updates: list[Row]) -> None:
    """Set source_id, agent_id and audio_id on stored messages by id."""
    if not updates:
        return
    statement = (
        update(messages)
        .where(messages.c.id == bindparam("message_id"))
        .values(
            source_id=bindparam("new_source_id"),
            agent_id=bindparam("new_agent_id"),
            audio_id=bindparam("new_audio_id"),
            updated_at=bindparam("new_updated_at"),
        )
    )
    connection.execute(statement, updates)


def insert_audio(connection: Connection, rows: list[Row]) -> None:
    """Store WAV blobs; audio is immutable, so an id seen before is skipped."""
    if rows:
        connection.execute(insert_ignoring_duplicates(connection.dialect, audio), rows)


def merge_rows(
    connection: Connection,
    table: Table,
    incoming: list[Row],
    now: datetime,
    fill_only: frozenset[str] = frozenset(),
) -> list[Any]:
    """Insert or update rows by primary key; return the keys of rows that changed.

    A None in ``incoming`` means "not known" and never clears a value. Columns in
    ``fill_only`` are set only while empty. Unchanged rows are not written at all,
    so ingesting the same batch twice leaves the store as it was.
    """
    key = table.primary_key.columns.values()[0]
    existing = {
        row[key.name]: row
        for row in rows_by_key(connection, table, list({row[key.name] for row in incoming}))
    }
    changed: list[Any] = []
    new_rows: dict[Any, Row] = {}
    for row in incoming:
        current = existing.get(row[key.name]) or new_rows.get(row[key.name])
        if current is None:
            new_rows[row[key.name]] = {**_defaults(table), **_known(row), "updated_at": now}
            continue
        delta = _changed_fields(current, row, fill_only)
        if delta:
            current.update(delta)
            if row[key.name] in existing:
                statement = update(table).where(key == row[key.name])
                connection.execute(statement.values(**delta, updated_at=now))
                changed.append(row[key.name])
    if new_rows:
        connection.execute(
            insert_ignoring_duplicates(connection.dialect, table), _same_keys(new_rows)
        )
        changed.extend(new_rows)
    return changed


def _known(row: Row) -> Row:
    return {name: value for name, value in row.items() if value is not None}


def _same_keys(rows: dict[Any, Row]) -> list[Row]:
    """Rows padded with None so one executemany can insert them all."""
    names = {name for row in rows.values() for name in row}
    return [{name: row.get(name) for name in names} for row in rows.values()]


def _changed_fields(current: Row, incoming: Row, fill_only: frozenset[str]) -> Row:
    delta: Row = {}
    for name, value in incoming.items():
        if value is None or current.get(name) == value:
            continue
        if name in fill_only and current.get(name) is not None:
            continue
        delta[name] = value
    return delta


def _defaults(table: Table) -> Row:
    """Scalar column defaults (the aggregate counters start at 0)."""
    defaults: Row = {}
    for column in table.columns:
        default = column.default
        if default is not None and default.is_scalar:
            defaults[column.name] = getattr(default, "arg", None)
    return defaults


def _session_totals() -> Any:
    totals = (
        select(
            messages.c.session_id,
            func.count().label("total"),
            func.min(messages.c.created_at).label("first"),
            func.max(messages.c.created_at).label("last"),
        )
        .where(messages.c.session_id.in_(bindparam("keys", expanding=True)))
        .group_by(messages.c.session_id)
        .subquery()
    )
    return (
        update(sessions)
        .where(sessions.c.session_id == totals.c.session_id)
        .values(
            message_count=totals.c.total,
            first_message_at=totals.c.first,
            last_message_at=totals.c.last,
            updated_at=bindparam("now"),
        )
    )


def _device_totals() -> Any:
    totals = (
        select(
            sessions.c.device,
            func.sum(sessions.c.message_count).label("messages"),
            func.count().label("sessions"),
            func.min(sessions.c.first_message_at).label("first"),
            func.max(sessions.c.last_message_at).label("last"),
        )
        .where(sessions.c.device.in_(bindparam("keys", expanding=True)))
        .group_by(sessions.c.device)
        .subquery()
    )
    return (
        update(devices)
        .where(devices.c.mac == totals.c.device)
        .values(
            message_count=totals.c.messages,
            session_count=totals.c.sessions,
            first_seen_at=totals.c.first,
            last_seen_at=totals.c.last,
            updated_at=bindparam("now"),
        )
    )


# Built once: constructing statements per call cost more than SQLite running them.
_REFRESH_SESSIONS = _session_totals()
_REFRESH_DEVICES = _device_totals()
_BY_KEY = {
    table: select(table).where(
        table.primary_key.columns.values()[0].in_(bindparam("keys", expanding=True))
    )
    for table in (sessions, devices, agents)
}


def refresh_sessions(
    connection: Connection, session_ids: Sequence[str], now: datetime
) -> list[Row]:
    """Recount sessions from their messages (exact even with concurrent writers)."""
    for part in chunked(session_ids):
        connection.execute(_REFRESH_SESSIONS, {"keys": list(part), "now": now})
    return rows_by_key(connection, sessions, session_ids)


def refresh_devices(connection: Connection, macs: Sequence[str], now: datetime) -> list[Row]:
    """Recount devices from their sessions' aggregates."""
    for part in chunked(macs):
        connection.execute(_REFRESH_DEVICES, {"keys": list(part), "now": now})
    return rows_by_key(connection, devices, macs)


_OWNED = select(sessions.c.session_id).where(
    sessions.c.session_id.in_(bindparam("keys", expanding=True)), sessions.c.device.is_not(None)
)
_ADD_TO_DEVICE = (
    update(devices)
    .where(devices.c.mac == bindparam("device_mac"))
    .values(
        message_count=devices.c.message_count + bindparam("messages"),
        session_count=devices.c.session_count + bindparam("sessions"),
        first_seen_at=case(
            (
                or_(
                    devices.c.first_seen_at.is_(None), devices.c.first_seen_at > bindparam("first")
                ),
                bindparam("first"),
            ),
            else_=devices.c.first_seen_at,
        ),
        last_seen_at=case(
            (
                or_(devices.c.last_seen_at.is_(None), devices.c.last_seen_at < bindparam("last")),
                bindparam("last"),
            ),
            else_=devices.c.last_seen_at,
        ),
        updated_at=bindparam("now"),
    )
)


def sessions_with_device(connection: Connection, session_ids: Sequence[str]) -> set[str]:
    """Which of these sessions already belong to a device."""
    owned: set[str] = set()
    for part in chunked(session_ids):
        owned.update(r.session_id for r in connection.execute(_OWNED, {"keys": list(part)}))
    return owned


def add_to_devices(connection: Connection, deltas: list[Row], now: datetime) -> None:
    """Add new messages and sessions to their devices' counters and time span (deltas:
    mac, messages, sessions, first, last)."""
    if deltas:
        rows = [
            {k: v for k, v in d.items() if k != "mac"} | {"device_mac": d["mac"], "now": now}
            for d in deltas
        ]
        connection.execute(_ADD_TO_DEVICE, rows)


def rows_by_key(connection: Connection, table: Table, keys: Sequence[Any]) -> list[Row]:
    """Full rows of ``table`` (sessions, devices or agents) whose primary key is in ``keys``."""
    rows: list[Row] = []
    for part in chunked(list(keys)):
        result = connection.execute(_BY_KEY[table], {"keys": list(part)})
        rows.extend(dict(row._mapping) for row in result)
    return rows
