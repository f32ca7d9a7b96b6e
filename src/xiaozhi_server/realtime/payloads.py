"""How a stored message looks in events, replays and the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def message_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored message without internal bookkeeping (natural key, ingest times)."""
    return {
        "id": row["id"],
        "device": row["device"],
        "session_id": row["session_id"],
        "agent_id": row["agent_id"],
        "chat_type": row["chat_type"],
        "content": row["content"],
        "audio_id": row["audio_id"],
        "created_at": row["created_at"],
        "source": row["source"],
    }
