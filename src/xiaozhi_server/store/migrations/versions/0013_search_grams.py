"""Search through an index on every store: search_grams, or on SQLite an FTS5 table of grams.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from xiaozhi_server.store.migrations import fts5_terms
from xiaozhi_server.store.types import AutoId

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_BATCH = 5000


def upgrade() -> None:
    """Index every stored message: search_grams (MySQL/MariaDB, PostgreSQL) or the FTS5
    table message_grams, which replaces message_terms (SQLite)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        bind.execute(sa.text(_CREATE_FTS))
        _index_existing_messages(bind)
        op.execute("DROP TABLE message_terms")
        return
    op.create_table(
        "search_grams",
        sa.Column("gram", sa.Integer, autoincrement=False, nullable=False),
        sa.Column("message_id", AutoId, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("gram", "message_id", name="pk_search_grams"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    _index_existing_messages(bind)


def downgrade() -> None:
    """Drop the index; SQLite gets its FTS5 index of words back, rebuilt from the messages."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE message_grams")
        fts5_terms.create_index(op.get_bind())
    else:
        op.drop_table("search_grams")


# Gram words only (no positions: the search needs no phrases), split on spaces.
_CREATE_FTS = "CREATE VIRTUAL TABLE message_grams USING fts5(terms, detail=none, tokenize='ascii')"


def _index_existing_messages(bind: sa.Connection) -> None:
    # The live gram function: this builds the index that today's code reads. A change to
    # that function needs a migration that rebuilds the index (see docs/architecture.md).
    from xiaozhi_server.store.search import index_messages

    read = sa.text("SELECT id, content FROM messages WHERE id > :last ORDER BY id LIMIT :n")
    last = 0
    while rows := bind.execute(read, {"last": last, "n": _BATCH}).all():
        index_messages(bind, [{"id": row.id, "content": row.content} for row in rows])
        last = rows[-1].id
