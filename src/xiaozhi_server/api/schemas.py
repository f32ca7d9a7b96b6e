"""The shapes of the read API's answers, for the OpenAPI document and response checks.

Routes still build plain dicts (api/views.py); FastAPI validates them against these
models and drops nothing that is set (``response_model_exclude_unset``), so a field that
a view leaves out (``tool``, ``*_local``) stays out of the JSON.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from xiaozhi_server.api.contract import Timestamp
from xiaozhi_server.auth.roles import Role

# A field present only when the request asked for it (``tz`` for ``*_local``).
LocalTime = Annotated[
    str | SkipJsonSchema[None],
    Field(description="the time above in the requested tz (only with tz)"),
]


class Device(BaseModel):
    """A device with its counts and activity state."""

    mac: str
    device_id: str | None = Field(description="the upstream ai_device.id")
    alias: str | None
    board: str | None
    firmware: str | None
    agent_id: str | None
    agent_name: str | None = Field(
        None, description="the agent's name, null if the upstream named none (device list only)"
    )
    last_seen_at: Timestamp | None
    first_seen_at: Timestamp | None
    message_count: int
    session_count: int
    state: Literal["online", "idle", "offline"] = Field(
        description="online: active in the last 5 minutes; idle: in the last 24 hours"
    )
    deleted_upstream_at: Timestamp | None


class DeviceList(BaseModel):
    """One page of devices."""

    items: list[Device]
    total: int = Field(description="devices matching the filters, on every page")
    limit: int
    offset: int


class Agent(BaseModel):
    """An agent: its id and the name the upstream gave it."""

    agent_id: str
    name: str | None = Field(description="null for an agent known only by id")


class AgentList(BaseModel):
    """One page of agents, by name."""

    items: list[Agent]
    total: int = Field(description="agents known, on every page")
    limit: int
    offset: int


class ToolCall(BaseModel):
    """A tool row that calls a tool."""

    kind: Literal["call"]
    name: str
    arguments: Any = Field(description="the arguments (JSON), or their text if not JSON")


class ToolResult(BaseModel):
    """A tool row that carries a tool's result."""

    kind: Literal["result"]
    result: Any = Field(description="the result (JSON), or its text if not JSON")


class Message(BaseModel):
    """One stored chat turn."""

    id: int
    device: str
    session_id: str
    agent_id: str | None
    chat_type: int = Field(description="1 user, 2 agent, 3 tool")
    speaker: str | None = Field(
        description="user turns: who spoke, when the core's voiceprint recognition named them"
    )
    content: str = Field(description="the text as said (plain text, also with a speaker)")
    audio_id: str | None
    created_at: Timestamp
    source: str
    tool: Annotated[ToolCall | ToolResult, Field(discriminator="kind")] | None = Field(
        None, description="tool rows only: the decoded call or result (null if undecodable)"
    )
    created_at_local: LocalTime = None


class Session(BaseModel):
    """A conversation: its title, counts and first and last times."""

    session_id: str
    device: str | None
    agent_id: str | None
    title: str | None
    message_count: int
    first_message_at: Timestamp | None
    last_message_at: Timestamp | None
    first_message_at_local: LocalTime = None
    last_message_at_local: LocalTime = None
    # Marks (api/marks.py): in session lists and a session's messages.
    starred: bool | SkipJsonSchema[None] = Field(None, description="starred by a user")
    note: str | None = Field(None, description="a user's note on the session")
    tags: list[str] | SkipJsonSchema[None] = Field(None, description="the session's tags")


class SessionWithMessages(Session):
    """A session and its messages (the first 200)."""

    messages: list[Message]


class ByType(BaseModel):
    """Message counts per chat type."""

    user: int
    agent: int
    tool: int


class Statistics(BaseModel):
    """One device's totals."""

    messages: int
    by_type: ByType
    sessions: int
    tool_calls: int
    first_activity_at: Timestamp | None
    last_activity_at: Timestamp | None
    average_messages_per_session: float


class SourceFreshness(BaseModel):
    """How current one sync source is."""

    source: str
    state: str
    last_success_at: Timestamp | None
    lag_seconds: float | None


class Freshness(BaseModel):
    """How current the device's history is."""

    last_capture_at: Timestamp
    sync: list[SourceFreshness]


class ChatHistory(BaseModel):
    """The seed's unified chat history of one device."""

    device_id: str = Field(description="the device's MAC")
    device: Device
    real_time_sessions: list[SessionWithMessages]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null at the end")
    statistics: Statistics
    last_updated: Timestamp
    freshness: Freshness


class SessionList(BaseModel):
    """One keyset page of sessions, newest first."""

    items: list[Session]
    next_cursor: str | None = Field(description="pass as cursor for the next page; null at the end")


class SessionMessages(BaseModel):
    """One conversation in order."""

    session: Session
    items: list[Message]


class SearchHit(Message):
    """A message that contains the query, with a snippet around the first hit."""

    snippet: str = Field(description="plain text, not HTML")
    highlights: list[tuple[int, int]] = Field(description="[start, end) of each hit in snippet")


class SearchResults(BaseModel):
    """One page of search hits, newest first."""

    items: list[SearchHit]
    next_before_id: int | None = Field(description="pass as before_id for the next page")


class StatsBucket(BaseModel):
    """Totals for one day, device or agent."""

    key: str | None = Field(description="the local day (YYYY-MM-DD), the device's MAC or agent id")
    messages: int
    sessions: int
    active_devices: int
    tool_calls: int
    audio_bytes: int | None = Field(
        None, description="per device and per agent: bytes of audio stored for these messages"
    )


class ResponseTime(BaseModel):
    """How long replies took to begin: user turn → the reply's first agent sentence."""

    day: str = Field(description="the user turns' local day (YYYY-MM-DD) in tz")
    agent_id: str | None = Field(description="the user turns' agent (null: not known)")
    replies: int = Field(description="user turns answered by at least one agent sentence")
    p50_ms: int = Field(description="median response time, milliseconds (nearest rank)")
    p95_ms: int = Field(description="95th percentile response time, milliseconds (nearest rank)")


class Stats(BaseModel):
    """Totals per bucket over [from, to)."""

    group_by: Literal["day", "device", "agent"]
    tz: str
    from_: Timestamp = Field(alias="from")
    to: Timestamp
    buckets: list[StatsBucket]
    response_times: list[ResponseTime] | SkipJsonSchema[None] = Field(
        None, description="only with response_times=true: per agent and local day"
    )


class SyncSource(BaseModel):
    """One source's sync_status row."""

    service_name: str
    last_sync_time: Timestamp | None
    sync_status: str
    error_message: str | None
    updated_at: Timestamp
    cursor: str | None = Field(description="the source's position, as JSON text")
    last_success_at: Timestamp | None
    rows_synced: int
    rows_updated: int
    rows_deleted: int


class SyncStatus(BaseModel):
    """Every source's sync state."""

    items: list[SyncSource]


class FeatureState(BaseModel):
    """One capability."""

    enabled: bool
    reason: str | None = Field(description="why it is off")


class Features(BaseModel):
    """Every capability: capture, tap, sync, notifications, console, export."""

    features: dict[str, FeatureState]


class User(BaseModel):
    """Someone who signs in with a name and password (never the password or its hash)."""

    username: str
    role: Role = Field(description="viewer: read and search; admin: everything")
    created_at: Timestamp
    updated_at: Timestamp


class UserList(BaseModel):
    """Every user, by name."""

    items: list[User]


class RemovedUser(BaseModel):
    """The user is gone, and so are their console sessions."""

    removed: str


class AuditRecord(BaseModel):
    """One entry of the audit trail: who did what, when, from where, to what."""

    id: int
    at: Timestamp
    action: str = Field(
        description="sign_in, sign_in_failed, export, unmask, user_add, user_password, "
        "user_role, user_remove, erase, retention, ..."
    )
    actor: str = Field(description="a user's or token's name; for sign_in_failed the name tried")
    actor_kind: str = Field(description="user, session, token, cli or system")
    address: str | None = Field(description="the client's address (CLI: local)")
    target: str | None = Field(description="what was acted on, e.g. 'user alice', a path")
    detail: dict[str, Any] = Field(description="counts, filters and formats; never chat text")


class AuditPage(BaseModel):
    """One page of the audit trail, newest first."""

    items: list[AuditRecord]
    next_before_id: int | None = Field(description="pass as before_id for the next page")


_DOWNLOAD: dict[str, Any] = {
    "Content-Disposition": {
        "description": 'attachment; filename="xiaozhi-chat-history-<UTC time>.<format>"',
        "schema": {"type": "string"},
    }
}
# Streamed, so described here rather than by a model.
EXPORT_DOWNLOAD: dict[str, Any] = {
    "description": "Every matching message in id order: one JSON object per line (jsonl), "
    "CSV with a header row (csv) or a readable transcript (txt).",
    "headers": _DOWNLOAD,
    "content": {
        "application/x-ndjson": {"schema": {"type": "string"}},
        "text/csv": {"schema": {"type": "string"}},
        "text/plain": {"schema": {"type": "string"}},
    },
}
