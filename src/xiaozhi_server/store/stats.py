"""Counts for statistics: messages, sessions, active devices and tool calls per bucket (and
audio bytes stored per device and per agent)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio, messages

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
    """Totals per device or per agent for messages created in [since, until), with the
    bytes of audio stored for them (``audio_bytes``)."""
    key = messages.c.device if column == "device" else messages.c.agent_id
    # read from the (audio_id, size_bytes) index: never the blobs
    stored_audio = func.coalesce(func.sum(audio.c.size_bytes), 0).label("audio_bytes")
    query = (
        select(key.label("key"), *_TOTALS, stored_audio)
        .select_from(messages.outerjoin(audio, audio.c.audio_id == messages.c.audio_id))
        .where(messages.c.created_at >= since, messages.c.created_at < until)
        .group_by(key)
        .order_by(func.count().desc())
    )
    async with store.read() as connection:
        rows = [dict(row._mapping) for row in await connection.execute(query)]
    # MySQL's SUM is a DECIMAL: counts are whole numbers everywhere
    return [{name: _whole(value) for name, value in row.items()} for row in rows]


def _whole(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value
