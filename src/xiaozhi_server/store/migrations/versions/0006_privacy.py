"""Privacy: erasure tombstones, and the indexes retention and audio statistics read.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from xiaozhi_server.store.types import AutoId, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create erasures; index audio sizes and sessions' first activity per device."""
    op.create_table(
        "erasures",
        sa.Column("id", AutoId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("cutoff", UtcDateTime, nullable=False),
        sa.Column("erased_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_erasures"),
        sa.UniqueConstraint("kind", "key", name="uq_erasures_kind_key"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.create_index("ix_audio_audio_id_size_bytes", "audio", ["audio_id", "size_bytes"])
    op.create_index(
        "ix_sessions_device_first_message_at", "sessions", ["device", "first_message_at"]
    )


def downgrade() -> None:
    """Back to revision 0005."""
    op.drop_index("ix_sessions_device_first_message_at", table_name="sessions")
    op.drop_index("ix_audio_audio_id_size_bytes", table_name="audio")
    op.drop_table("erasures")
