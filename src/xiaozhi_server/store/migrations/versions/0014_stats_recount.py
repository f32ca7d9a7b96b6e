"""A pending recount of the statistics rollups (set while a bulk copy skips them).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from xiaozhi_server.store.tables import stats_recount

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the (empty) marker table: the rollups are exact when this runs."""
    stats_recount.create(op.get_bind())


def downgrade() -> None:
    """Drop the marker table (the rollups must be exact first: see docs/operations.md)."""
    stats_recount.drop(op.get_bind())
