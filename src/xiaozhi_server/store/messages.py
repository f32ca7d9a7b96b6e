"""Queries over stored messages."""

from __future__ import annotations

from typing import Any

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


async def messages_after(
    store: Store,
    after_id: int,
    limit: int,
    device: str | None = None,
    agent: str | None = None,
    session: str | None = None,
) -> list[dict[str, Any]]:
    """Messages with an id above ``after_id``, oldest first, narrowed by device/agent/session."""
    query = select(messages).where(messages.c.id > after_id).order_by(messages.c.id).limit(limit)
    for column, value in (
        (messages.c.device, device),
        (messages.c.agent_id, agent),
        (messages.c.session_id, session),
    ):
        if value is not None:
            query = query.where(column == value)
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(query)]
