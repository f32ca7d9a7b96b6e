"""Admin users: name and password hash."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select, update

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.dialects import insert_ignoring_duplicates
from xiaozhi_server.store.tables import admin_users


async def password_hash(store: Store, username: str) -> str | None:
    """The stored hash for ``username``, or None if there is no such admin."""
    async with store.read() as connection:
        result = await connection.execute(
            select(admin_users.c.password_hash).where(admin_users.c.username == username)
        )
        return result.scalar_one_or_none()


async def count_admins(store: Store) -> int:
    """How many admin users exist."""
    async with store.read() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(admin_users))).scalar_one()
        )


async def set_password_hash(store: Store, username: str, hashed: str) -> None:
    """Create ``username`` or replace its password hash."""
    now = datetime.now(UTC)
    async with store.write() as connection:
        row = {"username": username, "password_hash": hashed, "created_at": now, "updated_at": now}
        await connection.execute(insert_ignoring_duplicates(connection.dialect, admin_users), [row])
        await connection.execute(
            update(admin_users)
            .where(admin_users.c.username == username)
            .values(password_hash=hashed, updated_at=now)
        )
