"""Statistics rollups: per quarter, running totals per (device, agent), active devices.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from xiaozhi_server.store import rollup_recount
from xiaozhi_server.store.tables import (
    stats_day_windows,
    stats_device_quarters,
    stats_pairs,
    stats_quarters,
    stats_running,
)

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TABLES = (
    stats_quarters,
    stats_running,
    stats_pairs,
    stats_device_quarters,
    stats_day_windows,
)


def upgrade() -> None:
    """Create the rollup tables and count the messages already stored."""
    bind = op.get_bind()
    for table in _TABLES:
        table.create(bind)
    rollup_recount.rebuild(bind)


def downgrade() -> None:
    """Drop the rollup tables."""
    bind = op.get_bind()
    for table in reversed(_TABLES):
        table.drop(bind)
