"""SQLite: the rollup tables with a key of several columns become WITHOUT ROWID tables.

A rowid table keeps such a key in a B-tree of its own beside the rows, so each rollup row
was written (and each statistics seek made) twice. The rows are copied as they are; other
databases already cluster rows by their primary key and are left alone.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op
from sqlalchemy import Connection, Table, text

from xiaozhi_server.store.tables import (
    stats_day_windows,
    stats_device_quarters,
    stats_pairs,
    stats_running,
)

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_TABLES = (stats_running, stats_pairs, stats_device_quarters, stats_day_windows)


def upgrade() -> None:
    """Rebuild each rollup table that still has rowids, keeping its rows."""
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for table in _TABLES:
        if _has_rowids(bind, table.name):
            _rebuild(bind, table)


def downgrade() -> None:
    """Nothing: earlier releases read and write these tables the same either way."""


def _has_rowids(bind: Connection, name: str) -> bool:
    sql = bind.execute(
        text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {"name": name},
    ).scalar_one()
    return "WITHOUT ROWID" not in sql.upper()


def _rebuild(bind: Connection, table: Table) -> None:
    old = f"{table.name}_with_rowids"
    for index in table.indexes:  # index names are global: free them for the new table
        bind.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
    bind.execute(text(f"ALTER TABLE {table.name} RENAME TO {old}"))
    table.create(bind)
    columns = ", ".join(column.name for column in table.columns)
    bind.execute(text(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {old}"))
    bind.execute(text(f"DROP TABLE {old}"))
