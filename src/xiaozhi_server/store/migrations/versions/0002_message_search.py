"""Full-text search over messages: an FTS5 index of CJK bigrams and words (SQLite only).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

from xiaozhi_server.store.migrations import fts5_terms

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the index (SQLite); other databases search with LIKE."""
    if op.get_bind().dialect.name == "sqlite":
        fts5_terms.create_index(op.get_bind())


def downgrade() -> None:
    """Drop the index."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE message_terms")
