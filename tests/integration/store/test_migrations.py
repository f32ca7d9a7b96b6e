"""Migrations: the store goes to head and back to base on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import asyncio
import importlib
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import OperationalError

from tests.support.aggregates import assert_search_index_exact
from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import admins, migrate, stats
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.search import search_messages
from xiaozhi_server.store.tables import metadata

SEARCH_MIGRATION = importlib.import_module(
    "xiaozhi_server.store.migrations.versions.0013_search_grams"
)
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
    "marks",
    "mark_tags",
    "shares",
    "search_grams",
    "write_lock",
    "stats_quarters",
    "stats_running",
    "stats_pairs",
    "stats_device_quarters",
    "stats_day_windows",
    "stats_recount",
}


async def _tables(store: Store) -> set[str]:
    async with store.read() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    # SQLite's search index is an FTS5 table with shadow tables of its own.
    return {name for name in names if not name.startswith("message_grams_")} - {"alembic_version"}


def hub_tables(store: Store) -> set[str]:
    """HUB_TABLES as this store has them (SQLite: the search index in FTS5)."""
    if store.dialect == "sqlite":
        return HUB_TABLES - {"search_grams"} | {"message_grams"}
    return HUB_TABLES


async def seed_messages(store: Store) -> None:
    said = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    await Ingestor(store, EventBus()).ingest(
        Batch(
            messages=[
                MessageRecord("aa:00:00:00:00:01", "s-1", 1, "今天天气怎么样", said, "test"),
                MessageRecord("aa:00:00:00:00:01", "s-1", 2, "晴", said, "test"),
            ]
        )
    )


async def test_upgrade_creates_every_table_at_head(store_url: str) -> None:
    store = Store(store_url)
    await migrate.upgrade(store.engine)
    assert await _tables(store) == hub_tables(store)
    assert await migrate.current_revision(store.engine) == migrate.head_revision()
    await store.close()


async def test_instances_migrating_an_empty_store_at_once_all_succeed(store_url: str) -> None:
    # Instances started together (a compose file, a deployment) all migrate on start.
    stores = [Store(store_url) for _ in range(3)]
    try:
        await asyncio.gather(*(migrate.upgrade(store.engine) for store in stores))
        assert await _tables(stores[0]) == hub_tables(stores[0])
        assert await migrate.current_revision(stores[0].engine) == migrate.head_revision()
    finally:
        for store in stores:
            await store.close()


async def test_downgrade_to_base_removes_every_table_and_upgrade_restores_them(
    store: Store,
) -> None:
    await migrate.downgrade(store.engine, "base")
    assert await _tables(store) == set()
    assert await migrate.current_revision(store.engine) is None
    await migrate.upgrade(store.engine)
    assert await _tables(store) == hub_tables(store)


async def test_migrated_schema_matches_the_table_definitions(store: Store) -> None:
    def kept(_: Any, name: str | None, kind: str, reflected: bool, __: Any) -> bool:
        # SQLite keeps the search index in FTS5 tables, not in search_grams
        fts_side = ("message_grams", "search_grams")
        return store.dialect != "sqlite" or not (name or "").startswith(fts_side)

    def differences(sync: Connection) -> list[Any]:
        context = MigrationContext.configure(
            sync,
            opts={"compare_type": False, "include_object": kept},
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
    assert await _tables(store) == hub_tables(store)
    await store.close()


async def test_each_revision_steps_down_and_up_again_keeping_the_messages(store: Store) -> None:
    await seed_messages(store)
    revisions = [line.split(":")[0] for line in migrate.history()]  # newest first
    for older in revisions[1:]:
        await migrate.downgrade(store.engine, older)
        assert await migrate.current_revision(store.engine) == older
    await migrate.upgrade(store.engine)
    assert await migrate.current_revision(store.engine) == migrate.head_revision()
    found = await search_messages(store, "天气", limit=10)
    assert [row["content"] for row in found] == ["今天天气怎么样"]


async def test_upgrading_to_the_rollups_counts_the_messages_already_stored(store: Store) -> None:
    await seed_messages(store)
    revisions = [line.split(":")[0].strip() for line in migrate.history()]  # newest first
    await migrate.downgrade(store.engine, revisions[revisions.index("0012") + 1])
    await migrate.upgrade(store.engine)
    day = datetime(2026, 11, 24, tzinfo=UTC)
    counted = await stats.per_day(store, [("2026-11-24", day, day + timedelta(days=1))])
    assert counted == [
        {
            "key": "2026-11-24",
            "messages": 2,
            "sessions": 1,
            "active_devices": 1,
            "tool_calls": 0,
            "audio_bytes": 0,
        }
    ]


async def test_the_search_migration_indexes_messages_stored_before_it(store: Store) -> None:
    await seed_messages(store)
    await migrate.downgrade(store.engine, SEARCH_MIGRATION.down_revision)
    await migrate.upgrade(store.engine)
    await assert_search_index_exact(store)
    found = await search_messages(store, "天气", limit=10)
    assert [row["content"] for row in found] == ["今天天气怎么样"]


async def test_users_from_before_roles_are_admins_and_a_downgrade_drops_only_viewers(
    store_url: str,
) -> None:
    store = Store(store_url)
    await migrate.upgrade(store.engine, "0005")
    async with store.engine.begin() as connection:
        await connection.exec_driver_sql(
            "INSERT INTO admin_users (username, password_hash, created_at, updated_at) "
            "VALUES ('veteran', 'scrypt$x', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
    await migrate.upgrade(store.engine)
    assert await admins.credentials(store, "veteran") == ("scrypt$x", "admin")
    await admins.create_user(store, "newcomer", "scrypt$y", "viewer")
    await migrate.downgrade(store.engine, "0005")
    async with store.read() as connection:
        names = (await connection.exec_driver_sql("SELECT username FROM admin_users")).scalars()
        assert list(names) == ["veteran"]
    await store.close()


ROLLUPS_WITHOUT_ROWID = (
    "stats_running",
    "stats_pairs",
    "stats_device_quarters",
    "stats_day_windows",
)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_rollups_with_rowids_become_without_rowid_keeping_their_rows(store: Store) -> None:
    await seed_messages(store)
    before = await _rollup_rows(store)
    await migrate.downgrade(store.engine, "0014")
    async with store.engine.begin() as connection:  # as a store made before 0015 has them
        for name in ROLLUPS_WITHOUT_ROWID:
            await _give_rowids(connection, name)
    await migrate.upgrade(store.engine)
    async with store.read() as connection:
        schemas = await connection.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE 'stats_%'"
        )
        without = {name for name, sql in map(tuple, schemas) if "WITHOUT ROWID" in sql}
    assert without == set(ROLLUPS_WITHOUT_ROWID)
    assert await _rollup_rows(store) == before
    assert before["stats_running"]  # the seed was counted: there were rows to keep


async def _rollup_rows(store: Store) -> dict[str, list[Any]]:
    async with store.read() as connection:
        return {
            name: [
                tuple(row)
                for row in await connection.exec_driver_sql(f"SELECT * FROM {name} ORDER BY 1, 2")
            ]
            for name in ROLLUPS_WITHOUT_ROWID
        }


async def _give_rowids(connection: Any, name: str) -> None:
    (sql,) = (
        await connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        )
    ).one()
    indexes = [
        row[0]
        for row in await connection.exec_driver_sql(
            "SELECT sql FROM sqlite_master"
            " WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (name,),
        )
    ]
    await connection.exec_driver_sql(f"ALTER TABLE {name} RENAME TO old_{name}")
    for index in indexes:
        index_name = index.split()[2]
        await connection.exec_driver_sql(f"DROP INDEX {index_name}")
    await connection.exec_driver_sql(sql.replace("WITHOUT ROWID", ""))
    await connection.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM old_{name}")
    await connection.exec_driver_sql(f"DROP TABLE old_{name}")
    for index in indexes:
        await connection.exec_driver_sql(index)
