"""Text carrying a NUL neither fails a write nor matches anything, on every store
(PostgreSQL cannot store a NUL; SQLite and MariaDB can)."""

from __future__ import annotations

from xiaozhi_server.store import admins, devices, sessions
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.sync_state import all_sync_status, record_failure


async def test_a_sync_error_quoting_a_nul_is_recorded(store: Store) -> None:
    await record_failure(store, "upstream", "Duplicate entry 'a\x00b' for key 'PRIMARY'")
    [status] = await all_sync_status(store)
    assert status["sync_status"] == "failed"
    assert status["error_message"].startswith("Duplicate entry 'a")


async def test_a_lookup_with_a_nul_finds_nothing(store: Store) -> None:
    await admins.set_password_hash(store, "admin", "hash")
    assert await admins.password_hash(store, "admin\x00") is None
    assert await sessions.get_session(store, "s\x00") is None
    assert await devices.find_device(store, "aa\x00", "aa\x00") is None
