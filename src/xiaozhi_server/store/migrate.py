"""Alembic migrations run in-process on the store's own async engine."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


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
        if connection.dialect.name == "sqlite":
            # Python's sqlite3 runs DDL outside any transaction unless one is begun
            # explicitly; a process killed mid-migration would leave half a schema, no
            # version stamp, and a store that cannot start. (MySQL commits DDL regardless.)
            await connection.exec_driver_sql("BEGIN")
        await connection.run_sync(run_with)
