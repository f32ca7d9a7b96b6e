"""Making sure someone can sign in: configured admin, or a first-start random password."""

from __future__ import annotations

from xiaozhi_server.auth.passwords import hash_password, new_password, verify_password
from xiaozhi_server.config import AuthSettings
from xiaozhi_server.store import admins
from xiaozhi_server.store.database import Store


async def ensure_admin(store: Store, settings: AuthSettings) -> str | None:
    """Apply the configured admin password, or create an admin if there is none.

    Returns the generated password when one was created (to be shown once), else None.
    """
    username = settings.admin_username
    if settings.admin_password is not None:
        configured = settings.admin_password.get_secret_value()
        stored = await admins.password_hash(store, username)
        if stored is None or not verify_password(configured, stored):
            await admins.set_password_hash(store, username, hash_password(configured))
        return None
    if await admins.count_admins(store) > 0:
        return None
    password = new_password()
    await admins.set_password_hash(store, username, hash_password(password))
    return password
