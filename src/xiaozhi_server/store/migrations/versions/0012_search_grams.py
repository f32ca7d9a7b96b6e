"""Search through an index on every store: the search_grams table (replaces SQLite's FTS5).

Revision ID: 0012
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from xiaozhi_server.store.migrations import fts5_terms
from xiaozhi_server.store.types import AutoId

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    """Create search_grams and index every stored message; drop SQLite's FTS5 index."""
    op.create_table(
        "search_grams",
        sa.Column("gram", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("message_id", AutoId, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("gram", "message_id", name="pk_search_grams"),
        sqlite_with_rowid=False,
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    _index_existing_messages(op.get_bind())
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE message_terms")


def downgrade() -> None:
    """Drop search_grams; SQLite gets its FTS5 index back, rebuilt from the messages."""
    op.drop_table("search_grams")
    if op.get_bind().dialect.name == "sqlite":
        fts5_terms.create_index(op.get_bind())


def _index_existing_messages(bind: sa.Connection) -> None:
    # The live gram function: this builds the index that today's code reads. A change to
    # that function needs a migration that rebuilds the table (see docs/architecture.md).
    from xiaozhi_server.store.search_terms import grams

    read = sa.text("SELECT id, content FROM messages WHERE id > :last ORDER BY id LIMIT :n")
    write = sa.text("INSERT INTO search_grams (gram, message_id) VALUES (:gram, :message_id)")
    last = 0
    while rows := bind.execute(read, {"last": last, "n": _BATCH}).all():
        entries = [{"gram": g, "message_id": row.id} for row in rows for g in grams(row.content)]
        if entries:
            bind.execute(write, entries)
        last = rows[-1].id
