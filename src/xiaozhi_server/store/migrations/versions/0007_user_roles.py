"""Roles: every user gets one (viewer or admin); the users there before roles are admins.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add admin_users.role, 'admin' for every existing user."""
    with op.batch_alter_table("admin_users") as table:
        table.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="admin"))


def downgrade() -> None:
    """Drop the role column; viewers are removed first, so that none becomes an admin."""
    op.execute(
        "DELETE FROM admin_sessions WHERE username IN "
        "(SELECT username FROM admin_users WHERE role <> 'admin')"
    )
    op.execute("DELETE FROM admin_users WHERE role <> 'admin'")
    with op.batch_alter_table("admin_users") as table:
        table.drop_column("role")
