"""Queries over stored messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.marks import messages_matching
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
    since: datetime | None = None,
    until: datetime | None = None,
    starred: bool | None = None,
    tag: str | None = None,
) -> list[dict[str, Any]]:
    """Messages with an id above ``after_id``, oldest first, narrowed by the filters given."""
    query = select(messages).where(messages.c.id > after_id).order_by(messages.c.id).limit(limit)
    query = query.where(*messages_matching(starred, tag))
    if device is not None:
        query = query.where(messages.c.device == device)
    if agent is not None:
        query = query.where(messages.c.agent_id == agent)
    if session is not None:
        query = query.where(messages.c.session_id == session)
    if since is not None:
        query = query.where(messages.c.created_at >= since)
    if until is not None:
        query = query.where(messages.c.created_at < until)
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(query)]


async def session_messages(
    store: Store, session_id: str, limit: int | None = None
) -> list[dict[str, Any]]:
    """A session's messages in the order they were spoken (the first ``limit``, if given)."""
    query = (
        select(messages)
        .where(messages.c.session_id == session_id)
        .order_by(messages.c.created_at, messages.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(query)]


async def device_type_counts(store: Store, device: str) -> dict[int, int]:
    """A device's messages counted by chat type (reads only that device's index range)."""
    query = (
        select(messages.c.chat_type, func.count())
        .where(messages.c.device == device)
        .group_by(messages.c.chat_type)
    )
    async with store.read() as connection:
        return {int(kind): int(total) for kind, total in await connection.execute(query)}


async def max_message_id(store: Store) -> int:
    """The highest message id stored (0 when empty)."""
    async with store.read() as connection:
        return int(
            (
                await connection.execute(select(func.coalesce(func.max(messages.c.id), 0)))
            ).scalar_one()
        )
