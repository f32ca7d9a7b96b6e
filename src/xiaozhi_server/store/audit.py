"""The audit trail's rows: written once, never changed through the API, read newest first."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audit_log


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """Who did what, from where, to what; ``detail`` holds counts and names, never content."""

    actor: str
    actor_kind: str
    action: str
    target: str | None = None
    address: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


async def record(store: Store, entry: AuditEntry, at: datetime | None = None) -> None:
    """Append ``entry``."""
    row = {
        "at": at or datetime.now(UTC),
        "actor": entry.actor[:64],
        "actor_kind": entry.actor_kind[:16],
        "address": (entry.address or None) and entry.address[:64],
        "action": entry.action[:32],
        "target": (entry.target or None) and entry.target[:255],
        "detail": json.dumps(entry.detail, ensure_ascii=False, default=str) or None,
    }
    async with store.write() as connection:
        await connection.execute(insert(audit_log).values(**row))


async def entries(
    store: Store,
    limit: int,
    before_id: int | None = None,
    action: str | None = None,
    actor: str | None = None,
) -> list[dict[str, Any]]:
    """Entries newest first, ``limit`` at most, older than ``before_id`` when given, of
    one ``action`` and one ``actor`` when given."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(audit_log.c.id < before_id)
    if action is not None:
        query = query.where(audit_log.c.action == action)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    async with store.read() as connection:
        rows = [dict(row._mapping) for row in await connection.execute(query)]
    for row in rows:
        row["detail"] = json.loads(row["detail"]) if row["detail"] else {}
    return rows
