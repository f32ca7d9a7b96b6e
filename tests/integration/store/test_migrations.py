"""Migrations: the store goes to head and back to base on SQLite and MariaDB alike."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import OperationalError

from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import metadata

HUB_TABLES = {
    "messages",
    "sessions",
    "devices",
    "agents",
    "audio",
    "sync_status",
    "admin_users",
    "admin_sessions",
    "audit_log",
    "erasures",
}


async def _tables(store: Store) -> set[str]:
    async with store.read() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    # SQLite's full-text index is a virtual table with shadow tables of its own.
    return {name for name in names if not name.startswith("message_terms")} - {"alembic_version"}


async def test_upgrade_creates_every_table_at_head(store_url: str) -> None:
    store = Store(store_url)
    await migrate.upgrade(store.engine)
    assert await _tables(store) == HUB_TABLES
    assert await migrate.current_revision(store.engine) == migrate.head_revision()
    await store.close()


async def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(
    store: Store,
) -> None:
    await migrate.downgrade(store.engine, "base")
    assert await _tables(store) == set()
    assert await migrate.current_revision(store.engine) is None
    await migrate.upgrade(store.engine)
    assert await _tables(store) == HUB_TABLES


async def test_migrated_schema_matches_the_table_definitions(store: Store) -> None:
    def differences(sync: Connection) -> list[Any]:
        context = MigrationContext.configure(
            sync,
            opts={
                "compare_type": False,
                "include_name": lambda name, kind, _: not (name or "").startswith("message_terms"),
            },
        )
        return list(compare_metadata(context, metadata))

    async with store.read() as connection:
        assert await connection.run_sync(differences) == []


async def test_upgrading_twice_changes_nothing(store: Store) -> None:
    await migrate.upgrade(store.engine)
    assert await migrate.current_revision(store.engine) == migrate.head_revision()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_migration_that_fails_half_way_leaves_no_half_schema_on_sqlite(
    store_url: str,
) -> None:
    """As a process killed mid-migration would: the next start must find a clean store."""
    store = Store(store_url)
    async with store.engine.begin() as connection:
        # in the way of the first migration's sixth table, after five others were created
        await connection.exec_driver_sql("CREATE TABLE sync_status (x INTEGER)")
    with pytest.raises(OperationalError, match="already exists"):
        await migrate.upgrade(store.engine)
    assert await _tables(store) == {"sync_status"}
    assert await migrate.current_revision(store.engine) is None
    async with store.engine.begin() as connection:
        await connection.exec_driver_sql("DROP TABLE sync_status")
    await migrate.upgrade(store.engine)
    assert await _tables(store) == HUB_TABLES
    await store.close()
