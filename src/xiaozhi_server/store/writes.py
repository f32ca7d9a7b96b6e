"""Writes used by ingest, each inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from xiaozhi_server.store.dialects import insert_ignoring_duplicates
from xiaozhi_server.store.tables import audio, devices, messages, sessions

Row = dict[str, Any]
# Keeps every IN (...) under SQLite's and drivers' parameter limits.
CHUNK = 500


def chunked(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    """``values`` in slices of at most ``size``."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


async def find_messages(connection: AsyncConnection, keys: Sequence[str]) -> dict[str, Row]:
    """Stored messages by natural key (id and the fields a later source may fill in)."""
    found: dict[str, Row] = {}
    columns = (
        messages.c.natural_key,
        messages.c.id,
        messages.c.source_id,
        messages.c.agent_id,
        messages.c.audio_id,
    )
    for part in chunked(keys):
        result = await connection.execute(select(*columns).where(messages.c.natural_key.in_(part)))
        found.update((row.natural_key, dict(row._mapping)) for row in result)
    return found


async def insert_messages(connection: AsyncConnection, rows: list[Row]) -> list[Row]:
    """Insert new messages (duplicates skipped); return the inserted rows with their ids."""
    if not rows:
        return []
    await connection.execute(insert_ignoring_duplicates(connection, messages), rows)
    stored = await find_messages(connection, [row["natural_key"] for row in rows])
    return [
        {**row, "id": stored[row["natural_key"]]["id"]}
        for row in rows
        if row["natural_key"] in stored
    ]


async def fill_message_fields(connection: AsyncConnection, updates: list[Row]) -> None:
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
    await connection.execute(statement, updates)


async def insert_audio(connection: AsyncConnection, rows: list[Row]) -> None:
    """Store WAV blobs; audio is immutable, so an id seen before is skipped."""
    if rows:
        await connection.execute(insert_ignoring_duplicates(connection, audio), rows)


async def merge_rows(
    connection: AsyncConnection,
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
    existing: dict[Any, Row] = {}
    for part in chunked(list({row[key.name] for row in incoming})):
        result = await connection.execute(select(table).where(key.in_(part)))
        existing.update((row._mapping[key.name], dict(row._mapping)) for row in result)
    changed: list[Any] = []
    for row in incoming:
        current = existing.get(row[key.name])
        if current is None:
            new_row = {**_defaults(table), **{k: v for k, v in row.items() if v is not None}}
            await connection.execute(
                insert_ignoring_duplicates(connection, table), [{**new_row, "updated_at": now}]
            )
            existing[row[key.name]] = new_row
            changed.append(row[key.name])
            continue
        delta = _changed_fields(current, row, fill_only)
        if delta:
            await connection.execute(
                update(table).where(key == row[key.name]).values(**delta, updated_at=now)
            )
            current.update(delta)
            changed.append(row[key.name])
    return changed


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


async def refresh_sessions(
    connection: AsyncConnection, session_ids: Sequence[str], now: datetime
) -> list[Row]:
    """Recount sessions from their messages (exact even with concurrent writers)."""
    owned = messages.c.session_id == sessions.c.session_id
    for part in chunked(session_ids):
        await connection.execute(
            update(sessions)
            .where(sessions.c.session_id.in_(part))
            .values(
                message_count=select(func.count()).where(owned).scalar_subquery(),
                first_message_at=select(func.min(messages.c.created_at))
                .where(owned)
                .scalar_subquery(),
                last_message_at=select(func.max(messages.c.created_at))
                .where(owned)
                .scalar_subquery(),
                updated_at=now,
            )
        )
    return await rows_by_key(connection, sessions, session_ids)


async def refresh_devices(
    connection: AsyncConnection, macs: Sequence[str], now: datetime
) -> list[Row]:
    """Recount devices from their sessions' aggregates."""
    owned = sessions.c.device == devices.c.mac
    for part in chunked(macs):
        await connection.execute(
            update(devices)
            .where(devices.c.mac.in_(part))
            .values(
                message_count=select(func.coalesce(func.sum(sessions.c.message_count), 0))
                .where(owned)
                .scalar_subquery(),
                session_count=select(func.count()).where(owned).scalar_subquery(),
                first_seen_at=select(func.min(sessions.c.first_message_at))
                .where(owned)
                .scalar_subquery(),
                last_seen_at=select(func.max(sessions.c.last_message_at))
                .where(owned)
                .scalar_subquery(),
                updated_at=now,
            )
        )
    return await rows_by_key(connection, devices, macs)


async def rows_by_key(connection: AsyncConnection, table: Table, keys: Sequence[Any]) -> list[Row]:
    """Full rows of ``table`` whose primary key is in ``keys``."""
    key = table.primary_key.columns.values()[0]
    rows: list[Row] = []
    for part in chunked(list(keys)):
        result = await connection.execute(select(table).where(key.in_(part)))
        rows.extend(dict(row._mapping) for row in result)
    return rows
