"""Following deletes upstream: archive (keep, mark ``deleted_upstream_at``) or mirror."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select, update

from xiaozhi_server.store import marks, rollups
from xiaozhi_server.store.purge import forget_sessions
from xiaozhi_server.store.search import unindex_messages
from xiaozhi_server.store.tables import agents, devices, messages, sessions
from xiaozhi_server.store.writes import chunked

_BY_SOURCE_ID = select(messages.c.id, messages.c.session_id, messages.c.device).where(
    messages.c.source_id.in_(bindparam("keys", expanding=True)),
    messages.c.deleted_upstream_at.is_(None),
)


def delete_messages(
    connection: Connection, source_ids: list[int], policy: str, now: datetime
) -> tuple[int, set[str], set[str]]:
    """Apply ``policy`` to the messages with these upstream ids.

    Returns how many were affected and the sessions and devices whose counts changed.
    """
    found: list[Any] = []
    for part in chunked(source_ids):
        found.extend(connection.execute(_BY_SOURCE_ID, {"keys": list(part)}).all())
    ids = [row.id for row in found]
    touched_sessions = {row.session_id for row in found}
    touched_devices = {row.device for row in found}
    counted = rollups.snapshot(connection, ids) if policy == "mirror" else []
    if policy == "mirror":
        unindex_messages(connection, ids)  # first: it reads their text
    for part in chunked(ids):
        if policy == "mirror":
            connection.execute(delete(messages).where(messages.c.id.in_(part)))
        else:
            connection.execute(
                update(messages).where(messages.c.id.in_(part)).values(deleted_upstream_at=now)
            )
    if policy == "mirror":
        # Archived messages stay in the statistics; mirrored deletes leave them.
        rollups.apply(connection, counted, [])
        marks.forget_messages(connection, ids)
        _forget_empty(connection, touched_sessions, touched_devices)
    return len(ids), touched_sessions, touched_devices


def _forget_empty(connection: Connection, session_ids: set[str], macs: set[str]) -> None:
    """Zero the counts the grouped refresh cannot reach (it only sees what still exists)."""
    for part in chunked(sorted(session_ids)):
        connection.execute(
            update(sessions)
            .where(sessions.c.session_id.in_(part))
            .values(message_count=0, first_message_at=None, last_message_at=None)
        )
    for part in chunked(sorted(macs)):
        connection.execute(
            update(devices).where(devices.c.mac.in_(part)).values(message_count=0, session_count=0)
        )


def drop_empty_sessions(connection: Connection, session_ids: set[str]) -> None:
    """Mirror policy: sessions left without messages go too (with their marks and shares)."""
    for part in chunked(sorted(session_ids)):
        emptied = select(sessions.c.session_id).where(
            sessions.c.session_id.in_(part), sessions.c.message_count == 0
        )
        gone = [row.session_id for row in connection.execute(emptied)]
        connection.execute(delete(sessions).where(sessions.c.session_id.in_(gone)))
        forget_sessions(connection, gone)


def mark_devices_deleted(
    connection: Connection, upstream_ids: list[str], now: datetime
) -> list[str]:
    """Unbound upstream: keep the device and its history, mark it; return the MACs."""
    macs: list[str] = []
    for part in chunked(upstream_ids):
        rows = connection.execute(
            select(devices.c.mac).where(
                devices.c.upstream_id.in_(part), devices.c.deleted_upstream_at.is_(None)
            )
        ).all()
        macs.extend(row.mac for row in rows)
        connection.execute(
            update(devices)
            .where(devices.c.upstream_id.in_(part), devices.c.deleted_upstream_at.is_(None))
            .values(deleted_upstream_at=now, updated_at=now)
        )
    return macs


def mark_agents_deleted(connection: Connection, agent_ids: list[str], now: datetime) -> list[str]:
    """Deleted upstream: keep the agent's name for its history, mark it."""
    for part in chunked(agent_ids):
        connection.execute(
            update(agents)
            .where(agents.c.agent_id.in_(part), agents.c.deleted_upstream_at.is_(None))
            .values(deleted_upstream_at=now, updated_at=now)
        )
    return agent_ids
