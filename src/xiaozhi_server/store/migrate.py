"""Alembic migrations run in-process on the store's own async engine."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_MIGRATION_LOCK = "xiaozhi-server:migrate"
_MIGRATION_KEY = 7_342_002  # PostgreSQL advisory lock (the sync's is 7_342_001)
_MIGRATION_WAIT_SECONDS = 600


def alembic_config(output: io.StringIO | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (no alembic.ini needed)."""
    config = Config(stdout=output or io.StringIO())
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the store up to ``revision`` (default: the newest)."""
    await _run(engine, lambda config: command.upgrade(config, revision))


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Take the store back to ``revision`` ("base" drops every table)."""
    await _run(engine, lambda config: command.downgrade(config, revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the store is at, or None for an empty store."""
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


def head_revision() -> str:
    """The newest revision this version of xiaozhi-server ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the package ships at least one migration"
    return head


def history() -> list[str]:
    """Every shipped revision, newest first, as 'id: message' lines."""
    script = ScriptDirectory.from_config(alembic_config())
    return [f"{rev.revision}: {rev.doc}" for rev in script.walk_revisions()]


async def _run(engine: AsyncEngine, action: Callable[[Config], None]) -> None:
    def run_with(connection: Connection) -> None:
        config = alembic_config()
        config.attributes["connection"] = connection
        action(config)

    async with engine.begin() as connection:
        await _lock(connection)
        try:
            await connection.run_sync(run_with)
        finally:
            await _unlock(connection)


async def _lock(connection: AsyncConnection) -> None:
    """Migrate one process at a time: instances started together on an empty store would
    otherwise all create the same tables, and all but one fail to start. The others wait,
    then find the store at head and have nothing to do."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        # IMMEDIATE takes the write lock before alembic reads its version; and Python's
        # sqlite3 runs DDL outside any transaction unless one is begun explicitly: a
        # process killed mid-migration would leave half a schema and no version stamp.
        await connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif dialect == "postgresql":
        # Held until the migration's transaction ends (PostgreSQL's DDL is transactional).
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_MIGRATION_KEY)
        )
    else:
        statement = text("SELECT GET_LOCK(:name, :wait)")
        got = await connection.scalar(
            statement.bindparams(name=_MIGRATION_LOCK, wait=_MIGRATION_WAIT_SECONDS)
        )
        if got != 1:
            raise RuntimeError(
                f"another process has been migrating the store for {_MIGRATION_WAIT_SECONDS} s"
                f" (lock {_MIGRATION_LOCK!r}): is one stuck?"
            )


async def _unlock(connection: AsyncConnection) -> None:
    # MySQL's DDL commits as it goes: its lock belongs to the session, so give it back.
    if connection.dialect.name not in ("sqlite", "postgresql"):
        release = text("SELECT RELEASE_LOCK(:name)").bindparams(name=_MIGRATION_LOCK)
        await connection.execute(release)
