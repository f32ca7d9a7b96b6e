"""The write lock: one row that every write transaction on a shared store locks first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create write_lock with its one row."""
    table = op.create_table(
        "write_lock",
        sa.Column("id", sa.Integer, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_write_lock"),
        mysql_charset="utf8mb4",
        mysql_engine="InnoDB",
    )
    op.bulk_insert(table, [{"id": 1}])


def downgrade() -> None:
    """Drop write_lock."""
    op.drop_table("write_lock")
