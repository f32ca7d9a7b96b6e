"""Users who sign in with a name and password: their password hash and role.

The table is still called ``admin_users`` (from before roles); it holds viewers too.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from xiaozhi_server.auth.roles import Role
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.dialects import insert_ignoring_duplicates
from xiaozhi_server.store.tables import admin_sessions, admin_users


class LastAdmin(Exception):
    """The change would leave no admin: nobody could manage users from the console."""


async def password_hash(store: Store, username: str) -> str | None:
    """The stored hash for ``username``, or None if there is no such user."""
    found = await credentials(store, username)
    return found[0] if found else None


async def credentials(store: Store, username: str) -> tuple[str, Role] | None:
    """The stored hash and role of ``username``, or None if there is no such user."""
    query = select(admin_users.c.password_hash, admin_users.c.role).where(
        admin_users.c.username == username
    )
    async with store.read() as connection:
        row = (await connection.execute(query)).one_or_none()
    return (row.password_hash, row.role) if row else None


async def count_admins(store: Store) -> int:
    """How many users exist (of any role)."""
    async with store.read() as connection:
        return int(
            (await connection.execute(select(func.count()).select_from(admin_users))).scalar_one()
        )


_SHOWN = (
    admin_users.c.username,
    admin_users.c.role,
    admin_users.c.created_at,
    admin_users.c.updated_at,
)


async def list_users(store: Store) -> list[dict[str, Any]]:
    """Every user by name: username, role, created_at, updated_at (never the hash)."""
    async with store.read() as connection:
        rows = await connection.execute(select(*_SHOWN).order_by(admin_users.c.username))
        return [dict(row._mapping) for row in rows]


async def get_user(store: Store, username: str) -> dict[str, Any] | None:
    """One user as ``list_users`` shows it, or None."""
    async with store.read() as connection:
        rows = await connection.execute(select(*_SHOWN).where(admin_users.c.username == username))
        row = rows.one_or_none()
    return dict(row._mapping) if row else None


async def create_user(store: Store, username: str, hashed: str, role: Role) -> bool:
    """Add a user; False if the name is taken (nothing changes then)."""
    now = datetime.now(UTC)
    row = {
        "username": username,
        "password_hash": hashed,
        "role": role,
        "created_at": now,
        "updated_at": now,
    }
    async with store.write() as connection:
        result = await connection.execute(
            insert_ignoring_duplicates(connection.dialect, admin_users), [row]
        )
        return bool(result.rowcount)


async def set_password_hash(store: Store, username: str, hashed: str) -> bool:
    """Replace the user's password and end their console sessions; False if no such user."""
    async with store.write() as connection:
        changed = await _update(connection, username, password_hash=hashed)
        if changed:
            await connection.execute(
                delete(admin_sessions).where(admin_sessions.c.username == username)
            )
        return changed


async def set_role(store: Store, username: str, role: Role) -> bool:
    """Give the user ``role`` (sessions follow at once); False if no such user.

    Raises LastAdmin instead of taking the role away from the last admin.
    """
    async with store.write() as connection:
        if role != "admin":
            await _keep_an_admin(connection, username)
        return await _update(connection, username, role=role)


async def remove_user(store: Store, username: str) -> bool:
    """Remove the user and their sessions; False if no such user.

    Raises LastAdmin instead of removing the last admin.
    """
    async with store.write() as connection:
        await _keep_an_admin(connection, username)
        await connection.execute(
            delete(admin_sessions).where(admin_sessions.c.username == username)
        )
        result = await connection.execute(
            delete(admin_users).where(admin_users.c.username == username)
        )
        return bool(result.rowcount)


async def _update(connection: AsyncConnection, username: str, **values: Any) -> bool:
    result = await connection.execute(
        update(admin_users)
        .where(admin_users.c.username == username)
        .values(updated_at=datetime.now(UTC), **values)
    )
    return bool(result.rowcount)


async def _keep_an_admin(connection: AsyncConnection, username: str) -> None:
    """Raise LastAdmin if ``username`` is the only admin (admin rows locked meanwhile)."""
    admins = await connection.execute(
        select(admin_users.c.username).where(admin_users.c.role == "admin").with_for_update()
    )
    names = {row.username for row in admins}
    if names == {username}:
        raise LastAdmin(f"{username!r} is the last admin: make another user admin first")
