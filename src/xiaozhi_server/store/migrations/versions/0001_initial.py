"""The hub's first tables: messages, sessions, devices, agents, audio, sync_status, admin_users.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

from xiaozhi_server.store.types import AutoId, LongBlob, LongText, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}


def upgrade() -> None:
    """Create every table with the indexes the readers need."""
    op.create_table(
        "messages",
        sa.Column("id", AutoId, primary_key=True, autoincrement=True),
        sa.Column("natural_key", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_id", sa.BigInteger, nullable=True),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("chat_type", sa.SmallInteger, nullable=False),
        sa.Column("content", LongText, nullable=False),
        sa.Column("audio_id", sa.String(32), nullable=True),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("ingested_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("deleted_upstream_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.UniqueConstraint("natural_key", name="uq_messages_natural_key"),
        **OPTIONS,
    )
    op.create_index("ix_messages_source_id", "messages", ["source_id"])
    op.create_index("ix_messages_audio_id", "messages", ["audio_id"])
    op.create_index("ix_messages_created_at", "messages", ["created_at"])
    op.create_index(
        "ix_messages_device_session_id_created_at",
        "messages",
        ["device", "session_id", "created_at"],
    )
    op.create_index("ix_messages_agent_id_created_at", "messages", ["agent_id", "created_at"])
    op.create_index("ix_messages_session_id_created_at", "messages", ["session_id", "created_at"])

    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=True),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("title", sa.String(255), nullable=True),
        sa.Column("message_count", sa.Integer, nullable=False),
        sa.Column("first_message_at", UtcDateTime, nullable=True),
        sa.Column("last_message_at", UtcDateTime, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("deleted_upstream_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("session_id", name="pk_sessions"),
        **OPTIONS,
    )
    op.create_index("ix_sessions_device_last_message_at", "sessions", ["device", "last_message_at"])
    op.create_index(
        "ix_sessions_agent_id_last_message_at", "sessions", ["agent_id", "last_message_at"]
    )
    op.create_index("ix_sessions_last_message_at", "sessions", ["last_message_at"])

    op.create_table(
        "devices",
        sa.Column("mac", sa.String(64), nullable=False),
        sa.Column("upstream_id", sa.String(32), nullable=True),
        sa.Column("alias", sa.String(64), nullable=True),
        sa.Column("board", sa.String(50), nullable=True),
        sa.Column("app_version", sa.String(20), nullable=True),
        sa.Column("agent_id", sa.String(32), nullable=True),
        sa.Column("last_connected_at", UtcDateTime, nullable=True),
        sa.Column("first_seen_at", UtcDateTime, nullable=True),
        sa.Column("last_seen_at", UtcDateTime, nullable=True),
        sa.Column("message_count", sa.Integer, nullable=False),
        sa.Column("session_count", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("deleted_upstream_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("mac", name="pk_devices"),
        **OPTIONS,
    )
    op.create_index("ix_devices_upstream_id", "devices", ["upstream_id"])

    op.create_table(
        "agents",
        sa.Column("agent_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(64), nullable=True),
        sa.Column("chat_history_conf", sa.SmallInteger, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("deleted_upstream_at", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("agent_id", name="pk_agents"),
        **OPTIONS,
    )
    op.create_table(
        "audio",
        sa.Column("audio_id", sa.String(32), nullable=False),
        sa.Column("data", LongBlob, nullable=False),
        sa.Column("content_type", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("audio_id", name="pk_audio"),
        **OPTIONS,
    )
    op.create_table(
        "sync_status",
        sa.Column("service_name", sa.String(64), nullable=False),
        sa.Column("last_sync_time", UtcDateTime, nullable=True),
        sa.Column("sync_status", sa.String(16), nullable=False),
        sa.Column("error_message", sa.Text, nullable=True),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.Column("cursor", sa.Text, nullable=True),
        sa.Column("last_success_at", UtcDateTime, nullable=True),
        sa.Column("rows_synced", sa.BigInteger, nullable=False),
        sa.Column("rows_updated", sa.BigInteger, nullable=False),
        sa.Column("rows_deleted", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("service_name", name="pk_sync_status"),
        **OPTIONS,
    )
    op.create_table(
        "admin_users",
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("username", name="pk_admin_users"),
        **OPTIONS,
    )


def downgrade() -> None:
    """Drop every table this revision created."""
    for table in ("admin_users", "sync_status", "audio", "agents", "devices", "sessions"):
        op.drop_table(table)
    op.drop_table("messages")
