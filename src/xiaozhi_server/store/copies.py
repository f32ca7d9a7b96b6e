"""What the store already holds of the upstream: ids to reconcile against, audio it has."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, func, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import agents, audio, devices, messages


def _live(low: int, high: int) -> ColumnElement[bool]:
    return and_(messages.c.source_id.between(low, high), messages.c.deleted_upstream_at.is_(None))


async def highest_message_id(store: Store) -> int:
    """The highest message id: about how many messages the store holds (0 when empty)."""
    async with store.read() as connection:
        top = (await connection.execute(select(func.max(messages.c.id)))).scalar()
    return int(top or 0)


async def source_digest(store: Store, low: int, high: int) -> tuple[int, int]:
    """(count, sum of upstream ids) of live messages copied from that id range."""
    query = select(func.count(), func.coalesce(func.sum(messages.c.source_id), 0)).where(
        *_live(low, high)
    )
    async with store.read() as connection:
        count, total = (await connection.execute(query)).one()
    return int(count), int(total)


async def source_ids_between(store: Store, low: int, high: int) -> set[int]:
    """Upstream ids of live messages copied from that id range."""
    query = select(messages.c.source_id).where(_live(low, high))
    async with store.read() as connection:
        return {int(row.source_id) for row in await connection.execute(query)}


async def live_device_ids(store: Store) -> set[str]:
    """Upstream ids of devices not marked deleted upstream."""
    query = select(devices.c.upstream_id).where(
        devices.c.upstream_id.is_not(None), devices.c.deleted_upstream_at.is_(None)
    )
    async with store.read() as connection:
        return {row.upstream_id for row in await connection.execute(query)}


async def live_agent_ids(store: Store) -> set[str]:
    """Agents not marked deleted upstream."""
    query = select(agents.c.agent_id).where(agents.c.deleted_upstream_at.is_(None))
    async with store.read() as connection:
        return {row.agent_id for row in await connection.execute(query)}


async def stored_audio_ids(store: Store, ids: Sequence[str]) -> set[str]:
    """Which of these audio ids the store already holds."""
    if not ids:
        return set()
    async with store.read() as connection:
        rows = await connection.execute(
            select(audio.c.audio_id).where(audio.c.audio_id.in_(list(ids)))
        )
        return {row.audio_id for row in rows}
