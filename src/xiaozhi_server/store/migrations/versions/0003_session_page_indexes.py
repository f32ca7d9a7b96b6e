"""Session listing indexes end with session_id, the keyset tie-break, so a page is read in
index order without sorting the device's or agent's sessions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_sessions_device_last_message_at": ["device", "last_message_at"],
    "ix_sessions_agent_id_last_message_at": ["agent_id", "last_message_at"],
    "ix_sessions_last_message_at": ["last_message_at"],
}


def upgrade() -> None:
    """Rebuild each listing index with session_id appended."""
    for name, columns in _INDEXES.items():
        op.drop_index(name, table_name="sessions")
        op.create_index(f"{name}_session_id", "sessions", [*columns, "session_id"])


def downgrade() -> None:
    """Back to the indexes of revision 0002."""
    for name, columns in _INDEXES.items():
        op.drop_index(f"{name}_session_id", table_name="sessions")
        op.create_index(name, "sessions", columns)
