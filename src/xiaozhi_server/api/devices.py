"""Devices, and the seed's unified chat history of one device."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query

from xiaozhi_server.api.contract import READER, errors
from xiaozhi_server.api.errors import bad_parameter, not_found
from xiaozhi_server.api.params import (
    MAX_OFFSET,
    AgentRef,
    ContainsText,
    Cursor,
    DevicePath,
    DeviceRef,
    Zone,
    decode_cursor,
    encode_cursor,
    page_limit,
)
from xiaozhi_server.api.schemas import ChatHistory, DeviceList
from xiaozhi_server.api.unmask import content_masking
from xiaozhi_server.api.views import (
    IDLE_WITHIN,
    ONLINE_WITHIN,
    device_view,
    message_view,
    session_view,
)
from xiaozhi_server.domain import ChatType
from xiaozhi_server.ingest.normalise import normalise_device
from xiaozhi_server.privacy.masking import Masker
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import devices as device_queries
from xiaozhi_server.store import messages as message_queries
from xiaozhi_server.store import sessions as session_queries
from xiaozhi_server.store.devices import DeviceQuery
from xiaozhi_server.store.sync_state import all_sync_status

router = APIRouter(prefix="/api/v2", tags=["devices"], dependencies=READER)
MESSAGES_PER_SESSION = 200


MAX_MACS = 100


@router.get(
    "/devices",
    response_model=DeviceList,
    response_model_exclude_unset=True,
    responses=errors(400),
)
async def list_devices(
    services: Services = Depends(get_services),
    agent: Annotated[AgentRef | None, Query(description="agent id")] = None,
    q: Annotated[
        ContainsText | None, Query(description="alias, MAC, agent id or agent name contains")
    ] = None,
    mac: Annotated[
        list[DeviceRef] | None,
        Query(max_length=MAX_MACS, description=f"only these devices (up to {MAX_MACS})"),
    ] = None,
    state: Annotated[
        Literal["online", "idle", "offline"] | None,
        Query(description="online (last 5 minutes), idle (last 24 hours) or offline"),
    ] = None,
    sort: Literal["last_seen", "alias", "agent", "messages", "sessions", "mac"] = "last_seen",
    order: Annotated[
        Literal["asc", "desc"] | None,
        Query(description="default: newest, most and names A to Z first"),
    ] = None,
    limit: Annotated[int, page_limit("devices")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="devices to skip")] = 0,
) -> dict[str, Any]:
    """Every device with alias, board, firmware, agent (and its name), last seen, counts and
    state; filtered, sorted and paged by the store."""
    wanted = DeviceQuery(
        sort,
        order,
        limit,
        offset,
        agent,
        q,
        [normalise_device(m) for m in mac] if mac is not None else None,
        **_state_bounds(state, datetime.now(UTC)),
    )
    rows, total = await device_queries.list_devices(services.store, wanted)
    return {
        "items": [device_view(row) for row in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
    }


def _state_bounds(state: str | None, now: datetime) -> dict[str, datetime]:
    """online: seen in the last 5 minutes; idle: in the last 24 hours, not 5 minutes;
    offline: not in the last 24 hours (as ``device_view`` tells them apart)."""
    if state == "online":
        return {"seen_since": now - ONLINE_WITHIN}
    if state == "idle":
        return {"seen_since": now - IDLE_WITHIN, "unseen_since": now - ONLINE_WITHIN}
    if state == "offline":
        return {"unseen_since": now - IDLE_WITHIN}
    return {}


async def resolve_device(services: Services, device_id: str) -> dict[str, Any]:
    """A device by MAC (any spelling) or upstream ``ai_device.id``; 404 if unknown."""
    row = await device_queries.find_device(
        services.store, normalise_device(device_id), device_id.strip()
    )
    if row is None:
        raise not_found(f"device {device_id!r}")
    return row


@router.get(
    "/chat-history/{device_id}",
    response_model=ChatHistory,
    response_model_exclude_unset=True,
    responses=errors(400, 404, not_found="No device with this MAC or upstream id."),
)
async def device_chat_history(
    device_id: Annotated[DevicePath, Path(description="MAC (any spelling) or upstream device id")],
    services: Services = Depends(get_services),
    limit: Annotated[int, page_limit("sessions")] = 10,
    cursor: Annotated[Cursor | None, Query(description="a next_cursor this API returned")] = None,
    tz: Annotated[Zone | None, Query(description="adds *_local times in this zone")] = None,
    masker: Masker | None = Depends(content_masking),
) -> dict[str, Any]:
    """The device's recent sessions with their messages, statistics and freshness."""
    device = await resolve_device(services, device_id)
    rows = await session_queries.list_sessions(
        services.store, limit + 1, session_after(cursor), device=device["mac"]
    )
    page, more = rows[:limit], len(rows) > limit
    sessions = []
    for row in page:
        messages = await message_queries.session_messages(
            services.store, row["session_id"], MESSAGES_PER_SESSION
        )
        shown = [message_view(m, tz, masker) for m in messages]
        sessions.append(session_view(row, tz, masker) | {"messages": shown})
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
    moment, session_id = _aware_time(parts[0]), parts[1]
    # Only what session_cursor writes: an aware time and a session id without NUL.
    if moment is None or not isinstance(session_id, str) or "\x00" in session_id:
        raise bad_parameter("cursor", "not a cursor this API returned")
    return moment, session_id


def _aware_time(value: Any) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
        return moment.astimezone(UTC) if moment.tzinfo else None
    except (TypeError, ValueError, OverflowError):
        return None


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
