"""Read-only links to one session: created, listed, found by their secret, revoked.

A link's secret (the token in its URL) is stored only as its SHA-256 hash, so the table
alone cannot open a conversation; the share's id (public, for listing and revoking) is a
different random string. Shares go with their session (``forget_sessions``).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages, sessions, shares
from xiaozhi_server.store.writes import chunked

TOKEN_BYTES = 32  # 256 bits of secret in every link
ID_BYTES = 12


def token_hash(token: str) -> str:
    """The stored form of a link's secret."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def create(
    store: Store, session_id: str, created_by: str, now: datetime, expires_at: datetime
) -> tuple[dict[str, Any], str] | None:
    """A new share of ``session_id`` and its secret token; None if no such session."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    row = {
        "id": secrets.token_urlsafe(ID_BYTES),
        "token_hash": token_hash(token),
        "session_id": session_id,
        "created_at": now,
        "created_by": created_by[:64],
        "expires_at": expires_at,
    }

    def work(connection: Connection) -> bool:
        # The session's row is held until the share commits: an erasure cannot pass it.
        found = connection.execute(
            select(sessions.c.session_id)
            .where(sessions.c.session_id == session_id)
            .with_for_update()
        ).first()
        if found is not None:
            connection.execute(insert(shares).values(**row))
        return found is not None

    if not await store.run_write(work):
        return None
    return _public(row), token


async def find(store: Store, token: str) -> dict[str, Any] | None:
    """The share whose secret is ``token``, expired or not, or None."""
    query = select(shares).where(shares.c.token_hash == token_hash(token))
    async with store.read() as connection:
        row = (await connection.execute(query)).first()
    return _public(dict(row._mapping)) if row else None


async def listed(store: Store) -> list[dict[str, Any]]:
    """Every share, newest first, with its session's title."""
    query = (
        select(shares, sessions.c.title, sessions.c.device)
        .join(sessions, sessions.c.session_id == shares.c.session_id, isouter=True)
        .order_by(shares.c.created_at.desc(), shares.c.id)
    )
    async with store.read() as connection:
        return [_public(dict(row._mapping)) for row in await connection.execute(query)]


async def revoke(store: Store, share_id: str) -> dict[str, Any] | None:
    """Delete the share; return what it was, or None if there was none."""

    def work(connection: Connection) -> dict[str, Any] | None:
        row = connection.execute(select(shares).where(shares.c.id == share_id)).first()
        if row is not None:
            connection.execute(delete(shares).where(shares.c.id == share_id))
        return _public(dict(row._mapping)) if row else None

    return await store.run_write(work)


def forget_sessions(connection: Connection, session_ids: Iterable[str]) -> None:
    """Delete the shares of these sessions (they are being deleted)."""
    for part in chunked(sorted(set(session_ids))):
        connection.execute(delete(shares).where(shares.c.session_id.in_(part)))


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in row.items() if key != "token_hash"}


async def audio_in_session(store: Store, session_id: str, audio_id: str) -> bool:
    """True if a message of ``session_id`` carries the recording ``audio_id``."""
    query = (
        select(messages.c.id)
        .where(messages.c.session_id == session_id, messages.c.audio_id == audio_id)
        .limit(1)
    )
    async with store.read() as connection:
        return (await connection.execute(query)).first() is not None
