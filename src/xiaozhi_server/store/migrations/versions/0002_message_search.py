"""Full-text search over messages: an FTS5 index of CJK bigrams and words (SQLite only).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the index (SQLite); other databases search with LIKE."""
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE VIRTUAL TABLE message_terms USING fts5(terms, tokenize='unicode61')")
    _index_existing_messages()


def downgrade() -> None:
    """Drop the index."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE message_terms")


def _index_existing_messages() -> None:
    from sqlalchemy import text

    from xiaozhi_server.store.search_terms import index_terms

    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            text("SELECT id, content FROM messages WHERE id > :last ORDER BY id LIMIT 5000"),
            {"last": last},
        ).all()
        if not rows:
            return
        bind.execute(
            text("INSERT INTO message_terms (rowid, terms) VALUES (:id, :terms)"),
            [{"id": row.id, "terms": index_terms(row.content)} for row in rows],
        )
        last = rows[-1].id
