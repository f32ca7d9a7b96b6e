"""Counts for statistics: messages, sessions, active devices and tool calls per bucket."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages

_TOTALS = (
    func.count().label("messages"),
    func.count(func.distinct(messages.c.session_id)).label("sessions"),
    func.count(func.distinct(messages.c.device)).label("active_devices"),
    func.coalesce(func.sum(case((messages.c.chat_type == 3, 1), else_=0)), 0).label("tool_calls"),
)


async def totals_between(store: Store, since: datetime, until: datetime) -> dict[str, int]:
    """Totals for messages created in [since, until)."""
    query = select(*_TOTALS).where(messages.c.created_at >= since, messages.c.created_at < until)
    async with store.read() as connection:
        row = (await connection.execute(query)).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}


async def totals_by(
    store: Store, column: str, since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Totals per device or per agent for messages created in [since, until)."""
    key = messages.c.device if column == "device" else messages.c.agent_id
    query = (
        select(key.label("key"), *_TOTALS)
        .where(messages.c.created_at >= since, messages.c.created_at < until)
        .group_by(key)
        .order_by(func.count().desc())
    )
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(query)]
