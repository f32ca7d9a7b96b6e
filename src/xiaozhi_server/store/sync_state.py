"""The sync_status table: one row per source, with its cursor and counters."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from xiaozhi_server.domain import Checkpoint
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import sync_status


async def all_sync_status(store: Store) -> list[dict[str, Any]]:
    """Every source's row, by name."""
    async with store.read() as connection:
        result = await connection.execute(select(sync_status).order_by(sync_status.c.service_name))
        return [dict(row._mapping) for row in result]


def write_checkpoint(connection: Connection, checkpoint: Checkpoint, now: datetime) -> None:
    """Upsert the source's row: position, state and counters (inside the batch's transaction)."""
    current = connection.execute(
        select(sync_status).where(sync_status.c.service_name == checkpoint.service_name)
    ).first()
    values = {
        "last_sync_time": now,
        "sync_status": checkpoint.status,
        "error_message": checkpoint.error,
        "updated_at": now,
        "cursor": json.dumps(checkpoint.cursor, sort_keys=True, default=str),
    }
    if checkpoint.status == "success":
        values["last_success_at"] = now
    if current is None:
        connection.execute(
            insert(sync_status).values(
                service_name=checkpoint.service_name,
                rows_synced=checkpoint.synced,
                rows_updated=checkpoint.updated,
                rows_deleted=checkpoint.deleted,
                **values,
            )
        )
        return
    connection.execute(
        update(sync_status)
        .where(sync_status.c.service_name == checkpoint.service_name)
        .values(
            rows_synced=sync_status.c.rows_synced + checkpoint.synced,
            rows_updated=sync_status.c.rows_updated + checkpoint.updated,
            rows_deleted=sync_status.c.rows_deleted + checkpoint.deleted,
            **values,
        )
    )


async def read_cursor(store: Store, service_name: str) -> dict[str, Any]:
    """The source's stored position ({} before its first pass)."""
    async with store.read() as connection:
        row = (
            await connection.execute(
                select(sync_status.c.cursor).where(sync_status.c.service_name == service_name)
            )
        ).first()
    if row is None or not row.cursor:
        return {}
    cursor: dict[str, Any] = json.loads(row.cursor)
    return cursor


async def record_failure(store: Store, service_name: str, error: str) -> None:
    """Mark the source failed with ``error``, keeping its position and counters."""
    now = datetime.now(UTC)
    checkpoint = Checkpoint(service_name, await read_cursor(store, service_name), "failed", error)

    await store.run_write(functools.partial(write_checkpoint, checkpoint=checkpoint, now=now))
