"""Domain records: what every source hands to ingest, free of upstream names."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum
from typing import Any


class ChatType(IntEnum):
    """Who spoke a turn."""

    USER = 1
    AGENT = 2
    TOOL = 3


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One chat turn as a source saw it. ``created_at`` must be timezone-aware."""

    device: str
    session_id: str
    chat_type: int
    content: str
    created_at: datetime
    source: str
    agent_id: str | None = None
    audio_id: str | None = None
    source_id: int | None = None
    # True when this is the upstream's current row: its audio_id (even None) wins.
    upstream_state: bool = False
    # Who spoke a user turn, when voiceprint recognition named them (ingest/speaker.py).
    speaker: str | None = None
    # The content as reported, when normalisation took a speaker out of it: the natural key
    # hashes this, so the turn keeps the key it had before speakers had their own field.
    reported_content: str | None = None


@dataclass(frozen=True, slots=True)
class AudioRecord:
    """A recorded turn's WAV bytes, referenced by ``MessageRecord.audio_id``."""

    audio_id: str
    data: bytes
    content_type: str = "audio/wav"


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """What a source knows about a device; None means "not known", never "clear it"."""

    device: str
    upstream_id: str | None = None
    alias: str | None = None
    board: str | None = None
    app_version: str | None = None
    agent_id: str | None = None
    last_connected_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An upstream agent: its name and how much chat history it records."""

    agent_id: str
    name: str | None = None
    chat_history_conf: int | None = None


@dataclass(frozen=True, slots=True)
class TitleRecord:
    """A session title, generated upstream after the session ended."""

    session_id: str
    title: str


@dataclass(frozen=True, slots=True)
class Deletion:
    """Something the upstream no longer has: a ``message`` (by upstream id), a ``device``
    (by upstream id) or an ``agent``."""

    kind: str
    key: str | int


@dataclass(slots=True)
class Checkpoint:
    """A source's position and counters, committed with the batch it describes."""

    service_name: str
    cursor: dict[str, Any]
    status: str = "success"
    error: str | None = None
    synced: int = 0
    updated: int = 0
    deleted: int = 0


@dataclass(slots=True)
class Batch:
    """Everything one source read at once; ingest writes it in one transaction."""

    messages: list[MessageRecord] = field(default_factory=list)
    audio: list[AudioRecord] = field(default_factory=list)
    devices: list[DeviceRecord] = field(default_factory=list)
    agents: list[AgentRecord] = field(default_factory=list)
    titles: list[TitleRecord] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    on_delete: str = "archive"
    checkpoint: Checkpoint | None = None
    # Part of a bulk copy: the statistics rollups are recounted once at its end instead
    # (store/rollup_recount.py).
    recount_rollups: bool = False

    def __len__(self) -> int:
        return (
            len(self.messages)
            + len(self.audio)
            + len(self.devices)
            + len(self.agents)
            + len(self.titles)
            + len(self.deletions)
        )


def decode_tool_content(content: str) -> dict[str, object] | None:
    """A tool row's JSON array (``[{"type":"tool","text":"name({...})"}]`` or
    ``[{"type":"tool_result","text":"{...}"}]``) as ``{kind, name, arguments, result}``;
    None if it is not in that form."""
    import json

    try:
        items = json.loads(content)
    except (ValueError, TypeError):
        return None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return None
    item = items[0]
    text = item.get("text")
    if not isinstance(text, str):
        return None
    if item.get("type") == "tool":
        name, _, rest = text.partition("(")
        raw_arguments = rest[:-1] if rest.endswith(")") else rest
        return {"kind": "call", "name": name.strip(), "arguments": _json_or_text(raw_arguments)}
    if item.get("type") == "tool_result":
        result = _json_or_text(text)
        if isinstance(result, dict) and set(result) == {"result"}:
            result = result["result"]
        return {"kind": "result", "result": result}
    return None


def _json_or_text(text: str) -> object:
    import json

    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return text
