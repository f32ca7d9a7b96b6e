"""Queries over devices (from their aggregate rows: never a scan of messages)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, func, or_, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.patterns import contains
from xiaozhi_server.store.tables import devices

# Said out loud, so every store agrees: a missing value sorts last (PostgreSQL puts NULL
# first when descending, SQLite and MySQL when ascending) and names ignore case (as
# MariaDB's collation does, and SQLite and PostgreSQL do not).
SORTS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "last_seen": (devices.c.last_seen_at.is_(None), devices.c.last_seen_at.desc()),
    "alias": (devices.c.alias.is_(None), func.lower(devices.c.alias).asc()),
    "messages": (devices.c.message_count.desc(),),
    "sessions": (devices.c.session_count.desc(),),
    "mac": (devices.c.mac.asc(),),
}


async def find_device(store: Store, mac: str, upstream_id: str) -> dict[str, Any] | None:
    """A device by its normalised MAC or by the upstream ``ai_device.id``."""
    query = select(devices).where(or_(devices.c.mac == mac, devices.c.upstream_id == upstream_id))
    async with store.read() as connection:
        row = (await connection.execute(query)).first()
    return dict(row._mapping) if row else None


async def list_devices(
    store: Store,
    sort: str,
    limit: int,
    offset: int,
    agent: str | None = None,
    q: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """A page of devices and the total matching."""
    query = select(devices)
    if agent:
        query = query.where(devices.c.agent_id == agent)
    if q:
        query = query.where(or_(contains(devices.c.alias, q), contains(devices.c.mac, q)))
    page = query.order_by(*SORTS[sort], devices.c.mac).limit(limit).offset(offset)
    total = select(func.count()).select_from(query.subquery())
    async with store.read() as connection:
        rows = [dict(row._mapping) for row in await connection.execute(page)]
        count = int((await connection.execute(total)).scalar_one())
    return rows, count
