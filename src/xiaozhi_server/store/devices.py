"""Queries over devices (from their aggregate rows: never a scan of messages)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, cast, func, not_, null, or_, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.patterns import contains
from xiaozhi_server.store.tables import agents, devices

_AGENT_NAME = agents.c.name.label("agent_name")
_WITH_AGENT = devices.outerjoin(agents, agents.c.agent_id == devices.c.agent_id)

# Each sort's value and its natural direction. Said out loud, so every store agrees: a
# missing value sorts last in either direction (PostgreSQL puts NULL first when descending,
# SQLite and MySQL when ascending) and names ignore case (as MariaDB's collation does, and
# SQLite and PostgreSQL do not).
# Last seen: the later of the last turn and the last connection (as the API shows it).
_LAST_SEEN = case(
    (devices.c.last_seen_at.is_(None), devices.c.last_connected_at),
    (devices.c.last_connected_at.is_(None), devices.c.last_seen_at),
    (devices.c.last_seen_at >= devices.c.last_connected_at, devices.c.last_seen_at),
    else_=devices.c.last_connected_at,
)
SORTS: dict[str, tuple[ColumnElement[Any], str]] = {
    "last_seen": (_LAST_SEEN, "desc"),
    "alias": (func.lower(devices.c.alias), "asc"),
    "agent": (func.lower(agents.c.name), "asc"),
    "messages": (devices.c.message_count, "desc"),
    "sessions": (devices.c.session_count, "desc"),
    "mac": (devices.c.mac, "asc"),
}


@dataclass(frozen=True)
class DeviceQuery:
    """Which devices, in what order, which page.

    ``seen_since`` keeps devices active at or after that time, ``unseen_since`` those not
    active since then (the API's online, idle and offline); ``macs`` only these devices;
    ``q`` matches alias, MAC, agent id or agent name.
    """

    sort: str = "last_seen"
    order: str | None = None
    limit: int = 100
    offset: int = 0
    agent: str | None = None
    q: str | None = None
    macs: Sequence[str] | None = None
    seen_since: datetime | None = None
    unseen_since: datetime | None = None


async def find_device(store: Store, mac: str, upstream_id: str) -> dict[str, Any] | None:
    """A device by its normalised MAC or by the upstream ``ai_device.id``."""
    query = select(devices).where(or_(devices.c.mac == mac, devices.c.upstream_id == upstream_id))
    async with store.read() as connection:
        row = (await connection.execute(query)).first()
    return dict(row._mapping) if row else None


async def list_devices(store: Store, wanted: DeviceQuery) -> tuple[list[dict[str, Any]], int]:
    """A page of devices (each with its agent's ``agent_name``) and the total matching."""
    query = _filtered(select(devices, _AGENT_NAME).select_from(_WITH_AGENT), wanted)
    page = query.order_by(*_order(wanted)).limit(wanted.limit).offset(wanted.offset)
    # Only a search looks at agent names: the count needs no join without one.
    counted = _WITH_AGENT if wanted.q else devices
    total = _filtered(select(func.count()).select_from(counted), wanted)
    async with store.read() as connection:
        rows = [dict(row._mapping) for row in await connection.execute(page)]
        count = int((await connection.execute(total)).scalar_one())
    return rows, count


def _filtered(query: Select[Any], wanted: DeviceQuery) -> Select[Any]:
    if wanted.agent:
        query = query.where(devices.c.agent_id == wanted.agent)
    if wanted.macs is not None:
        query = query.where(devices.c.mac.in_(wanted.macs))
    if wanted.q:
        columns = (devices.c.alias, devices.c.mac, devices.c.agent_id, agents.c.name)
        query = query.where(or_(*(contains(column, wanted.q) for column in columns)))
    if wanted.seen_since is not None:
        query = query.where(_seen_since(wanted.seen_since))
    if wanted.unseen_since is not None:
        query = query.where(not_(_seen_since(wanted.unseen_since)))
    return query


def _seen_since(moment: datetime) -> ColumnElement[bool]:
    """Active (a turn or a connection) at or after ``moment``; never NULL, so NOT works."""
    return or_(
        and_(devices.c.last_seen_at.is_not(None), devices.c.last_seen_at >= moment),
        and_(devices.c.last_connected_at.is_not(None), devices.c.last_connected_at >= moment),
    )


def _order(wanted: DeviceQuery) -> tuple[ColumnElement[Any], ...]:
    value, natural = SORTS[wanted.sort]
    direction = wanted.order or natural
    ordered = value.desc() if direction == "desc" else value.asc()
    # The MAC breaks ties, in the same direction, so pages never overlap or skip.
    tie = devices.c.mac.desc() if direction == "desc" else devices.c.mac.asc()
    return value.is_(None), ordered, tie


async def device_agents(store: Store, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Agents by name: those the upstream named, and those devices name only by id."""
    named = select(agents.c.agent_id, agents.c.name)
    unnamed = (
        select(devices.c.agent_id, cast(null(), agents.c.name.type).label("name"))
        .where(devices.c.agent_id.is_not(None))
        .where(devices.c.agent_id.not_in(select(agents.c.agent_id)))
        .distinct()
    )
    known = named.union(unnamed).subquery()
    page = (
        select(known)
        .order_by(known.c.name.is_(None), func.lower(known.c.name), known.c.agent_id)
        .limit(limit)
        .offset(offset)
    )
    total = select(func.count()).select_from(known)
    async with store.read() as connection:
        rows = [dict(row._mapping) for row in await connection.execute(page)]
        count = int((await connection.execute(total)).scalar_one())
    return rows, count
