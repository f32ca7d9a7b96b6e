"""Stars, notes and tags on sessions and messages; read-only share links to a session.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from xiaozhi_server.store.types import UtcDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_MYSQL: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create marks, mark_tags and shares."""
    op.create_table(
        "marks",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("starred", sa.Boolean, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "message_id", name="pk_marks"),
        **_MYSQL,
    )
    op.create_index("ix_marks_message_id", "marks", ["message_id"])
    op.create_table(
        "mark_tags",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("message_id", sa.BigInteger, nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("session_id", "message_id", "tag", name="pk_mark_tags"),
        **_MYSQL,
    )
    op.create_index("ix_mark_tags_tag_session_id", "mark_tags", ["tag", "session_id"])
    op.create_index("ix_mark_tags_message_id", "mark_tags", ["message_id"])
    op.create_table(
        "shares",
        sa.Column("id", sa.String(24), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("expires_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shares"),
        sa.UniqueConstraint("token_hash", name="uq_shares_token_hash"),
        **_MYSQL,
    )
    op.create_index("ix_shares_session_id", "shares", ["session_id"])


def downgrade() -> None:
    """Back to revision 0008: every star, note, tag and share link goes."""
    op.drop_index("ix_shares_session_id", table_name="shares")
    op.drop_table("shares")
    op.drop_index("ix_mark_tags_message_id", table_name="mark_tags")
    op.drop_index("ix_mark_tags_tag_session_id", table_name="mark_tags")
    op.drop_table("mark_tags")
    op.drop_index("ix_marks_message_id", table_name="marks")
    op.drop_table("marks")
