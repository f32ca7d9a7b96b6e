"""How stored rows look to API readers."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta
from typing import Any

from xiaozhi_server.api.params import localised
from xiaozhi_server.domain import ChatType, decode_tool_content
from xiaozhi_server.privacy.masking import Masker
from xiaozhi_server.realtime.payloads import masked_payload, message_payload

ONLINE_WITHIN = timedelta(minutes=5)
IDLE_WITHIN = timedelta(hours=24)


def device_view(row: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    """A device with its activity state: online (active in the last 5 minutes), idle (in
    the last 24 hours) or offline."""
    seen = [t for t in (row["last_seen_at"], row["last_connected_at"]) if t is not None]
    last_seen = max(seen) if seen else None
    return {
        "mac": row["mac"],
        "device_id": row["upstream_id"],
        "alias": row["alias"],
        "board": row["board"],
        "firmware": row["app_version"],
        "agent_id": row["agent_id"],
        # Present when the query joined the agent (the device list does).
        **({"agent_name": row["agent_name"]} if "agent_name" in row else {}),
        "last_seen_at": last_seen,
        "first_seen_at": row["first_seen_at"],
        "message_count": row["message_count"],
        "session_count": row["session_count"],
        "state": _state(last_seen, now or datetime.now(UTC)),
        "deleted_upstream_at": row["deleted_upstream_at"],
    }


def _state(last_seen: datetime | None, now: datetime) -> str:
    if last_seen is None:
        return "offline"
    age = now - last_seen
    return "online" if age <= ONLINE_WITHIN else "idle" if age <= IDLE_WITHIN else "offline"


def session_view(
    row: dict[str, Any], zone: zoneinfo.ZoneInfo | None = None, masker: Masker | None = None
) -> dict[str, Any]:
    """A session with its title (masked by ``masker``), counts and first/last times."""
    view = {
        "session_id": row["session_id"],
        "device": row["device"],
        "agent_id": row["agent_id"],
        "title": row["title"],
        "message_count": row["message_count"],
        "first_message_at": row["first_message_at"],
        "last_message_at": row["last_message_at"],
    }
    if masker:
        view = masked_payload("session_update", view, masker)
    return localised(view, zone)


def message_view(
    row: dict[str, Any], zone: zoneinfo.ZoneInfo | None = None, masker: Masker | None = None
) -> dict[str, Any]:
    """A message (content masked by ``masker``); a tool row also carries ``tool`` (kind,
    name, arguments or result), decoded from the stored text and then masked."""
    view = message_payload(row)
    if row["chat_type"] == ChatType.TOOL:
        tool = decode_tool_content(row["content"])
        view["tool"] = masker.json(tool) if masker else tool
    if masker:
        view = masked_payload("chat_update", view, masker)
    return localised(view, zone)
