"""Queries over stored messages."""

from __future__ import annotations

from sqlalchemy import func, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages


async def count_messages(store: Store, source: str | None = None) -> int:
    """How many messages are stored (from ``source`` only, if given)."""
    query = select(func.count()).select_from(messages)
    if source is not None:
        query = query.where(messages.c.source == source)
    async with store.read() as connection:
        return int((await connection.execute(query)).scalar_one())
