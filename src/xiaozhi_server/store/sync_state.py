"""The sync_status table: one row per source, with its cursor and counters."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import sync_status


async def all_sync_status(store: Store) -> list[dict[str, Any]]:
    """Every source's row, by name."""
    async with store.read() as connection:
        result = await connection.execute(select(sync_status).order_by(sync_status.c.service_name))
        return [dict(row._mapping) for row in result]
