"""The hub's tables. Migrations in ``store/migrations`` create exactly these."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from xiaozhi_server.store.types import AutoId, LongBlob, LongText, UtcDateTime

# Field sizes the write path validates against, so no database ever truncates or refuses.
DEVICE_LEN = 64
SESSION_LEN = 64
AGENT_LEN = 32
AUDIO_ID_LEN = 32
SOURCE_LEN = 16
SPEAKER_LEN = 128

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
    }
)
# utf8mb4 so Chinese and emoji survive MySQL/MariaDB; other databases ignore these.
MYSQL_OPTIONS: dict[str, Any] = {"mysql_charset": "utf8mb4", "mysql_engine": "InnoDB"}
# Rollup tables keyed by several columns: on SQLite a rowid table keeps such a key in a
# second B-tree, so every row was written twice (migration 0015).
KEYED_ROLLUP_OPTIONS: dict[str, Any] = MYSQL_OPTIONS | {"sqlite_with_rowid": False}

messages = Table(
    "messages",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("natural_key", String(64), nullable=False, unique=True),
    Column("source", String(SOURCE_LEN), nullable=False),
    Column("source_id", BigInteger, nullable=True, index=True),
    Column("device", String(DEVICE_LEN), nullable=False),
    Column("agent_id", String(AGENT_LEN), nullable=True),
    Column("session_id", String(SESSION_LEN), nullable=False),
    Column("chat_type", SmallInteger, nullable=False),
    Column("content", LongText, nullable=False),
    # Who spoke a user turn, when voiceprint recognition named them (ingest/speaker.py).
    Column("speaker", String(SPEAKER_LEN), nullable=True),
    Column("audio_id", String(AUDIO_ID_LEN), nullable=True, index=True),
    Column("created_at", UtcDateTime, nullable=False, index=True),
    Column("ingested_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_upstream_at", UtcDateTime, nullable=True),
    Index(None, "device", "session_id", "created_at"),
    Index(None, "agent_id", "created_at"),
    Index(None, "session_id", "created_at"),
    **MYSQL_OPTIONS,
)

# The search index on MySQL/MariaDB and PostgreSQL (store/search.py; SQLite keeps the same
# grams in the FTS5 table message_grams, which migration 0013 creates): one row per distinct
# gram of a message. The key leads with the gram, so a query walks one gram's messages
# newest first and stops; no index on message_id: a delete names its entries by full key.
search_grams = Table(
    "search_grams",
    metadata,
    Column("gram", Integer, primary_key=True, autoincrement=False),
    Column("message_id", AutoId, primary_key=True, autoincrement=False),
    **MYSQL_OPTIONS,
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(SESSION_LEN), primary_key=True),
    # Unknown until the first message arrives: a title can come first.
    Column("device", String(DEVICE_LEN), nullable=True),
    Column("agent_id", String(AGENT_LEN), nullable=True),
    Column("title", String(255), nullable=True),
    Column("message_count", Integer, nullable=False, default=0),
    Column("first_message_at", UtcDateTime, nullable=True),
    Column("last_message_at", UtcDateTime, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_upstream_at", UtcDateTime, nullable=True),
    # session_id last: the keyset tie-break, so pages come in index order.
    Index(None, "device", "last_message_at", "session_id"),
    Index(None, "agent_id", "last_message_at", "session_id"),
    Index(None, "last_message_at", "session_id"),
    # A device's first activity after its oldest sessions are purged (privacy/retention.py).
    Index(None, "device", "first_message_at"),
    **MYSQL_OPTIONS,
)

devices = Table(
    "devices",
    metadata,
    Column("mac", String(DEVICE_LEN), primary_key=True),
    Column("upstream_id", String(32), nullable=True, index=True),
    Column("alias", String(64), nullable=True),
    Column("board", String(50), nullable=True),
    Column("app_version", String(20), nullable=True),
    Column("agent_id", String(AGENT_LEN), nullable=True),
    Column("last_connected_at", UtcDateTime, nullable=True),
    Column("first_seen_at", UtcDateTime, nullable=True),
    Column("last_seen_at", UtcDateTime, nullable=True),
    Column("message_count", Integer, nullable=False, default=0),
    Column("session_count", Integer, nullable=False, default=0),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_upstream_at", UtcDateTime, nullable=True),
    **MYSQL_OPTIONS,
)

agents = Table(
    "agents",
    metadata,
    Column("agent_id", String(AGENT_LEN), primary_key=True),
    Column("name", String(64), nullable=True),
    Column("chat_history_conf", SmallInteger, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("deleted_upstream_at", UtcDateTime, nullable=True),
    **MYSQL_OPTIONS,
)

audio = Table(
    "audio",
    metadata,
    Column("audio_id", String(AUDIO_ID_LEN), primary_key=True),
    Column("data", LongBlob, nullable=False),
    Column("content_type", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # Sizes without reading the blobs: SQLite keeps later columns behind a blob's overflow pages.
    Index(None, "audio_id", "size_bytes"),
    **MYSQL_OPTIONS,
)

sync_status = Table(
    "sync_status",
    metadata,
    Column("service_name", String(64), primary_key=True),
    Column("last_sync_time", UtcDateTime, nullable=True),
    Column("sync_status", String(16), nullable=False),
    Column("error_message", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("cursor", Text, nullable=True),
    Column("last_success_at", UtcDateTime, nullable=True),
    Column("rows_synced", BigInteger, nullable=False, default=0),
    Column("rows_updated", BigInteger, nullable=False, default=0),
    Column("rows_deleted", BigInteger, nullable=False, default=0),
    **MYSQL_OPTIONS,
)

# Everyone who signs in with a name and password (viewers too, despite the table's name).
admin_users = Table(
    "admin_users",
    metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False, server_default="admin"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    **MYSQL_OPTIONS,
)

admin_sessions = Table(
    "admin_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    **MYSQL_OPTIONS,
)

# Append-only from the API's point of view: who did what to personal data, when, from where.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False, index=True),
    Column("actor", String(64), nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("address", String(64), nullable=True),
    Column("action", String(32), nullable=False),
    Column("target", String(255), nullable=True),
    Column("detail", Text, nullable=True),
    Index(None, "action", "at"),
    **MYSQL_OPTIONS,
)

# Tombstones (privacy/erasure.py): what was erased on request, so no source brings it back.
# Records of the scope (a session, a device, an agent) created at or before ``cutoff`` stay out.
erasures = Table(
    "erasures",
    metadata,
    Column("id", AutoId, primary_key=True, autoincrement=True),
    Column("kind", String(16), nullable=False),
    Column("key", String(DEVICE_LEN), nullable=False),
    Column("cutoff", UtcDateTime, nullable=False),
    Column("erased_at", UtcDateTime, nullable=False),
    UniqueConstraint("kind", "key"),
    **MYSQL_OPTIONS,
)

# Stars, notes and tags (store/marks.py): on a session (message_id 0) or on one message.
NOTE_LEN = 4000
TAG_LEN = 32
SESSION_MARK = 0
marks = Table(
    "marks",
    metadata,
    Column("session_id", String(SESSION_LEN), nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("starred", Boolean, nullable=False, default=False),
    Column("note", Text, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    PrimaryKeyConstraint("session_id", "message_id"),
    Index(None, "message_id"),
    **MYSQL_OPTIONS,
)

mark_tags = Table(
    "mark_tags",
    metadata,
    Column("session_id", String(SESSION_LEN), nullable=False),
    Column("message_id", BigInteger, nullable=False),
    Column("tag", String(TAG_LEN), nullable=False),
    PrimaryKeyConstraint("session_id", "message_id", "tag"),
    Index(None, "tag", "session_id"),
    Index(None, "message_id"),
    **MYSQL_OPTIONS,
)

# Read-only links to one session (store/shares.py): the link's secret is kept as a hash only.
SHARE_ID_LEN = 24
shares = Table(
    "shares",
    metadata,
    Column("id", String(SHARE_ID_LEN), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("session_id", String(SESSION_LEN), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    **MYSQL_OPTIONS,
)

# One row, locked first by every write transaction on MariaDB / PostgreSQL (store/write_lock.py),
# so writers from several instances take turns instead of deadlocking on each other's rows.
write_lock = Table(
    "write_lock",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    **MYSQL_OPTIONS,
)

# Statistics rollups (store/rollups.py keeps them; store/stats.py reads them). Time is counted
# in quarters: 15-minute UTC buckets numbered from the Unix epoch. Every UTC offset in use is a
# multiple of 15 minutes, so every zone's local day is a whole run of quarters. ``agent`` is ''
# for messages without an agent (a key column cannot compare NULLs).
QUARTER_COUNTERS = ("messages", "sessions", "tool_calls", "audio_bytes")

# Per quarter, all devices: messages, sessions started, tool calls, audio bytes.
stats_quarters = Table(
    "stats_quarters",
    metadata,
    Column("quarter", Integer, primary_key=True, autoincrement=False),
    *(Column(name, BigInteger, nullable=False, default=0) for name in QUARTER_COUNTERS),
    **MYSQL_OPTIONS,
)

# Per (device, agent): running totals up to the end of each quarter the pair was written in, so
# any range's totals are two index seeks per pair, whatever its length.
stats_running = Table(
    "stats_running",
    metadata,
    Column("device", String(DEVICE_LEN), primary_key=True),
    Column("agent", String(AGENT_LEN), primary_key=True),
    Column("quarter", Integer, primary_key=True, autoincrement=False),
    *(Column(name, BigInteger, nullable=False, default=0) for name in QUARTER_COUNTERS),
    **KEYED_ROLLUP_OPTIONS,
)

# The (device, agent) pairs with the first and last quarter they were ever written in (bounds
# that only widen: they let a range skip pairs it cannot involve).
stats_pairs = Table(
    "stats_pairs",
    metadata,
    Column("device", String(DEVICE_LEN), primary_key=True),
    Column("agent", String(AGENT_LEN), primary_key=True),
    Column("first_quarter", Integer, nullable=False),
    Column("last_quarter", Integer, nullable=False),
    **KEYED_ROLLUP_OPTIONS,
)

# Messages per (device, quarter); a row exists only while the count is above 0.
stats_device_quarters = Table(
    "stats_device_quarters",
    metadata,
    Column("device", String(DEVICE_LEN), primary_key=True),
    Column("quarter", Integer, primary_key=True, autoincrement=False),
    Column("messages", Integer, nullable=False),
    Index(None, "quarter", "device"),
    **KEYED_ROLLUP_OPTIONS,
)

# Distinct active devices in every window of ``quarters`` quarters starting at ``start_quarter``
# (lengths of a local day: 96, and 92 / 100 for days with a one-hour clock change).
stats_day_windows = Table(
    "stats_day_windows",
    metadata,
    Column("start_quarter", Integer, primary_key=True, autoincrement=False),
    Column("quarters", SmallInteger, primary_key=True, autoincrement=False),
    Column("devices", Integer, nullable=False, default=0),
    **KEYED_ROLLUP_OPTIONS,
)


# One row while the rollups above are behind ``messages`` (store/rollup_recount.py): a bulk
# copy skipped them, and the next catch-up recounts them from scratch.
stats_recount = Table(
    "stats_recount",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("requested_at", UtcDateTime, nullable=False),
    **MYSQL_OPTIONS,
)


def tables_on(dialect: str) -> list[Table]:
    """The tables the migrations create on ``dialect``, in dependency order: every one but
    search_grams on SQLite (its search index is the FTS5 table message_grams)."""
    return [t for t in metadata.sorted_tables if dialect != "sqlite" or t is not search_grams]
