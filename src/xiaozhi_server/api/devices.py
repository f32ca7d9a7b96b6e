"""Devices, and the seed's unified chat history of one device."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Query

from xiaozhi_server.api.errors import bad_parameter, not_found
from xiaozhi_server.api.params import decode_cursor, encode_cursor, page_size, zone_param
from xiaozhi_server.api.views import device_view, message_view, session_view
from xiaozhi_server.auth.guard import require_admin
from xiaozhi_server.domain import ChatType
from xiaozhi_server.ingest.normalise import normalise_device
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import devices as device_queries
from xiaozhi_server.store import messages as message_queries
from xiaozhi_server.store import sessions as session_queries
from xiaozhi_server.store.sync_state import all_sync_status

router = APIRouter(prefix="/api/v2", tags=["devices"], dependencies=[Depends(require_admin)])
MESSAGES_PER_SESSION = 200


@router.get("/devices")
async def list_devices(
    services: Services = Depends(get_services),
    agent: str | None = None,
    q: str | None = Query(None, description="alias or MAC contains"),
    state: str | None = Query(None, description="online, idle or offline"),
    sort: str = Query("last_seen", description="last_seen, alias, messages, sessions or mac"),
    limit: int | None = None,
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """Every device with alias, board, firmware, agent, last seen, counts and state."""
    if sort not in device_queries.SORTS:
        raise bad_parameter("sort", "expected one of " + ", ".join(device_queries.SORTS))
    if state not in (None, "online", "idle", "offline"):
        raise bad_parameter("state", "expected online, idle or offline")
    size = page_size(limit, default=100)
    rows, total = await device_queries.list_devices(services.store, sort, size, offset, agent, q)
    items = [device_view(row) for row in rows]
    if state:
        items = [item for item in items if item["state"] == state]
    return {"items": items, "total": total, "limit": size, "offset": offset}


async def resolve_device(services: Services, device_id: str) -> dict[str, Any]:
    """A device by MAC (any spelling) or upstream ``ai_device.id``; 404 if unknown."""
    row = await device_queries.find_device(
        services.store, normalise_device(device_id), device_id.strip()
    )
    if row is None:
        raise not_found(f"device {device_id!r}")
    return row


@router.get("/chat-history/{device_id}")
async def device_chat_history(
    device_id: str,
    services: Services = Depends(get_services),
    limit: int | None = Query(None, description="sessions per page (default 10)"),
    cursor: str | None = None,
    tz: str | None = None,
) -> dict[str, Any]:
    """The device's recent sessions with their messages, statistics and freshness."""
    zone = zone_param(tz)
    device = await resolve_device(services, device_id)
    size = page_size(limit, default=10)
    rows = await session_queries.list_sessions(
        services.store, size + 1, session_after(cursor), device=device["mac"]
    )
    page, more = rows[:size], len(rows) > size
    sessions = []
    for row in page:
        messages = await message_queries.session_messages(
            services.store, row["session_id"], MESSAGES_PER_SESSION
        )
        sessions.append(
            session_view(row, zone) | {"messages": [message_view(m, zone) for m in messages]}
        )
    return {
        "device_id": device["mac"],
        "device": device_view(device),
        "real_time_sessions": sessions,
        "next_cursor": session_cursor(page[-1]) if more else None,
        "statistics": await _statistics(services, device),
        "last_updated": device["updated_at"],
        "freshness": await _freshness(services, device),
    }


def session_cursor(row: dict[str, Any]) -> str:
    """The cursor that continues after ``row`` (sessions pages, here and in /sessions)."""
    return encode_cursor(row["last_message_at"].isoformat(), row["session_id"])


def session_after(cursor: str | None) -> tuple[datetime, str] | None:
    """Decode a sessions cursor into (last_message_at, session_id); 400 if it is not one."""
    parts = decode_cursor(cursor, 2)
    if parts is None:
        return None
    try:
        return datetime.fromisoformat(parts[0]), str(parts[1])
    except (TypeError, ValueError):
        raise bad_parameter("cursor", "not a cursor this API returned") from None


async def _statistics(services: Services, device: dict[str, Any]) -> dict[str, Any]:
    counts = await message_queries.device_type_counts(services.store, device["mac"])
    sessions = device["session_count"]
    return {
        "messages": device["message_count"],
        "by_type": {kind.name.lower(): counts.get(int(kind), 0) for kind in ChatType},
        "sessions": sessions,
        "tool_calls": counts.get(int(ChatType.TOOL), 0),
        "first_activity_at": device["first_seen_at"],
        "last_activity_at": device["last_seen_at"],
        "average_messages_per_session": round(device["message_count"] / sessions, 2)
        if sessions
        else 0,
    }


async def _freshness(services: Services, device: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    sources = []
    for row in await all_sync_status(services.store):
        success = row["last_success_at"]
        lag = (now - success).total_seconds() if success else None
        sources.append(
            {
                "source": row["service_name"],
                "state": row["sync_status"],
                "last_success_at": success,
                "lag_seconds": lag,
            }
        )
    return {"last_capture_at": device["updated_at"], "sync": sources}
