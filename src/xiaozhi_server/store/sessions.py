"""Queries over sessions (from their aggregate rows), newest first with keyset pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.marks import sessions_matching
from xiaozhi_server.store.patterns import contains
from xiaozhi_server.store.tables import sessions

_NEWEST_FIRST = (sessions.c.last_message_at.desc(), sessions.c.session_id.desc())


async def get_session(store: Store, session_id: str) -> dict[str, Any] | None:
    """One session's row, or None."""
    async with store.read() as connection:
        row = (
            await connection.execute(select(sessions).where(sessions.c.session_id == session_id))
        ).first()
    return dict(row._mapping) if row else None


async def list_sessions(
    store: Store,
    limit: int,
    after: tuple[datetime, str] | None = None,
    device: str | None = None,
    agent: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    q: str | None = None,
    starred: bool | None = None,
    tag: str | None = None,
) -> list[dict[str, Any]]:
    """Sessions with messages, newest first; ``after`` is the (last_message_at, id) of the
    previous page's last row; ``starred`` and ``tag`` filter by marks (store/marks.py)."""
    query = select(sessions).where(
        sessions.c.last_message_at.is_not(None), *sessions_matching(starred, tag)
    )
    if device is not None:
        query = query.where(sessions.c.device == device)
    if agent is not None:
        query = query.where(sessions.c.agent_id == agent)
    if since is not None:
        query = query.where(sessions.c.last_message_at >= since)
    if until is not None:
        query = query.where(sessions.c.first_message_at < until)
    if q:
        query = query.where(contains(sessions.c.title, q))
    if after is not None:
        moment, session_id = after
        query = query.where(
            or_(
                sessions.c.last_message_at < moment,
                and_(sessions.c.last_message_at == moment, sessions.c.session_id < session_id),
            )
        )
    query = query.order_by(*_NEWEST_FIRST).limit(limit)
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(query)]


async def count_agent_sessions(store: Store, agent: str) -> int:
    """How many sessions an agent has (for manager-api's page total)."""
    # last_message_at is in the (agent_id, last_message_at) index: the count reads only it.
    query = select(func.count()).where(
        sessions.c.agent_id == agent, sessions.c.last_message_at.is_not(None)
    )
    async with store.read() as connection:
        return int((await connection.execute(query)).scalar_one())


async def agent_sessions_page(
    store: Store, agent: str, limit: int, offset: int
) -> list[dict[str, Any]]:
    """An agent's sessions, newest first, by page number (manager-api's paging)."""
    query = (
        select(sessions)
        .where(sessions.c.agent_id == agent, sessions.c.last_message_at.is_not(None))
        .order_by(*_NEWEST_FIRST)
        .limit(limit)
        .offset(offset)
    )
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(query)]
