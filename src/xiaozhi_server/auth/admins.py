"""Making sure someone can sign in: configured admin, or a first-start random password."""

from __future__ import annotations

from xiaozhi_server.auth.passwords import hash_password, new_password, verify_password
from xiaozhi_server.config import AuthSettings
from xiaozhi_server.store import admins
from xiaozhi_server.store.audit import AuditEntry, record
from xiaozhi_server.store.database import Store


async def ensure_admin(store: Store, settings: AuthSettings) -> str | None:
    """Apply the configured admin password, or create an admin if there are no users.

    The configured admin (``auth.admin_username``) is always an admin: its password and
    role follow the settings on every start. Returns the generated password when one was
    created (to be shown once), else None.
    """
    username = settings.admin_username
    if settings.admin_password is not None:
        configured = settings.admin_password.get_secret_value()
        found = await admins.credentials(store, username)
        if found is None:
            await _create(store, username, configured)
            return None
        if not verify_password(configured, found[0]):
            await admins.set_password_hash(store, username, hash_password(configured))
            await _record(store, "user_password", username)
        if found[1] != "admin":
            await admins.set_role(store, username, "admin")
            await _record(store, "user_role", username, {"role": "admin"})
        return None
    if await admins.count_admins(store) > 0:
        return None
    password = new_password()
    await _create(store, username, password)
    return password


async def _create(store: Store, username: str, password: str) -> None:
    if await admins.create_user(store, username, hash_password(password), "admin"):
        await _record(store, "user_add", username, {"role": "admin"})


async def _record(
    store: Store, action: str, username: str, detail: dict[str, str] | None = None
) -> None:
    """User changes made by the settings are audited like any other (actor: settings)."""
    await record(
        store, AuditEntry("settings", "system", action, f"user {username}", None, detail or {})
    )
