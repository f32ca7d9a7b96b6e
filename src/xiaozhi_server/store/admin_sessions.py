"""Console sign-in sessions (only a hash of each token is stored)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, select

from xiaozhi_server.auth.roles import Role
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import admin_sessions, admin_users


async def create_session(
    store: Store, token_hash: str, username: str, expires_at: datetime
) -> None:
    """Remember a new session (and forget expired ones)."""
    now = datetime.now(UTC)
    async with store.write() as connection:
        await connection.execute(delete(admin_sessions).where(admin_sessions.c.expires_at < now))
        await connection.execute(
            insert(admin_sessions).values(
                token_hash=token_hash, username=username, created_at=now, expires_at=expires_at
            )
        )


async def session_user(store: Store, token_hash: str) -> tuple[str, Role] | None:
    """The user a live session belongs to and their role now, or None.

    A user's role is read with every request, so a change applies to open sessions at once.
    """
    query = (
        select(admin_sessions.c.username, admin_users.c.role)
        .join(admin_users, admin_users.c.username == admin_sessions.c.username)
        .where(
            admin_sessions.c.token_hash == token_hash,
            admin_sessions.c.expires_at > datetime.now(UTC),
        )
    )
    async with store.read() as connection:
        row = (await connection.execute(query)).one_or_none()
    return (row.username, row.role) if row else None


async def end_session(store: Store, token_hash: str) -> None:
    """Sign out: the session stops working at once."""
    async with store.write() as connection:
        await connection.execute(
            delete(admin_sessions).where(admin_sessions.c.token_hash == token_hash)
        )
