"""Sessions across devices and agents, and one session's conversation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from xiaozhi_server.api.devices import resolve_device, session_after, session_cursor
from xiaozhi_server.api.errors import not_found
from xiaozhi_server.api.params import page_size, time_param, zone_param
from xiaozhi_server.api.views import message_view, session_view
from xiaozhi_server.auth.guard import require_admin
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import messages as message_queries
from xiaozhi_server.store import sessions as session_queries

router = APIRouter(prefix="/api/v2", tags=["sessions"], dependencies=[Depends(require_admin)])


@router.get("/sessions")
async def list_sessions(
    services: Services = Depends(get_services),
    device: str | None = Query(None, description="MAC (any spelling) or upstream device id"),
    agent: str | None = None,
    from_: str | None = Query(None, alias="from", description="sessions active at or after"),
    to: str | None = Query(None, description="sessions started before"),
    q: str | None = Query(None, description="title contains"),
    limit: int | None = None,
    cursor: str | None = None,
    tz: str | None = None,
) -> dict[str, Any]:
    """Sessions newest first, one keyset page at a time (``next_cursor``)."""
    zone = zone_param(tz)
    size = page_size(limit)
    mac = (await resolve_device(services, device))["mac"] if device else None
    rows = await session_queries.list_sessions(
        services.store,
        size + 1,
        session_after(cursor),
        device=mac,
        agent=agent,
        since=time_param(from_, "from"),
        until=time_param(to, "to"),
        q=q,
    )
    page = rows[:size]
    return {
        "items": [session_view(row, zone) for row in page],
        "next_cursor": session_cursor(page[-1]) if len(rows) > size else None,
    }


@router.get("/sessions/{session_id}/messages")
async def session_messages(
    session_id: str, services: Services = Depends(get_services), tz: str | None = None
) -> dict[str, Any]:
    """The conversation in order; tool rows decoded alongside their raw content."""
    zone = zone_param(tz)
    session = await session_queries.get_session(services.store, session_id)
    if session is None:
        raise not_found(f"session {session_id!r}")
    rows = await message_queries.session_messages(services.store, session_id)
    return {"session": session_view(session, zone), "items": [message_view(r, zone) for r in rows]}
