"""Sessions across devices and agents, and one session's conversation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from xiaozhi_server.api.contract import READER, errors
from xiaozhi_server.api.devices import resolve_device, session_after, session_cursor
from xiaozhi_server.api.errors import not_found
from xiaozhi_server.api.mark_schemas import Tag
from xiaozhi_server.api.marks import with_marks
from xiaozhi_server.api.params import (
    AgentRef,
    ContainsText,
    Cursor,
    DeviceRef,
    SessionPath,
    Time,
    Zone,
    page_limit,
)
from xiaozhi_server.api.schemas import SessionList, SessionMessages
from xiaozhi_server.api.unmask import content_masking
from xiaozhi_server.api.views import message_view, session_view
from xiaozhi_server.privacy.masking import Masker
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import messages as message_queries
from xiaozhi_server.store import sessions as session_queries

router = APIRouter(prefix="/api/v2", tags=["sessions"], dependencies=READER)


@router.get(
    "/sessions",
    response_model=SessionList,
    response_model_exclude_unset=True,
    responses=errors(400, 404, not_found="No device with this MAC or upstream id."),
)
async def list_sessions(
    services: Services = Depends(get_services),
    device: Annotated[
        DeviceRef | None, Query(description="MAC (any spelling) or upstream device id")
    ] = None,
    agent: Annotated[AgentRef | None, Query(description="agent id")] = None,
    from_: Annotated[Time, Query(alias="from", description="sessions active at or after")] = None,
    to: Annotated[Time, Query(description="sessions started before")] = None,
    q: Annotated[ContainsText | None, Query(description="title contains")] = None,
    starred: Annotated[bool | None, Query(description="only starred (or unstarred) ones")] = None,
    tag: Annotated[Tag | None, Query(description="tagged so, or a message of it is")] = None,
    limit: Annotated[int, page_limit("sessions")] = 20,
    cursor: Annotated[Cursor | None, Query(description="a next_cursor this API returned")] = None,
    tz: Annotated[Zone | None, Query(description="adds *_local times in this zone")] = None,
    masker: Masker | None = Depends(content_masking),
) -> dict[str, Any]:
    """Sessions newest first, one keyset page at a time (``next_cursor``); titles masked;
    each with its star, note and tags."""
    mac = (await resolve_device(services, device))["mac"] if device else None
    rows = await session_queries.list_sessions(
        services.store,
        limit + 1,
        session_after(cursor),
        device=mac,
        agent=agent,
        since=from_,
        until=to,
        q=q,
        starred=starred,
        tag=tag,
    )
    page = rows[:limit]
    return {
        "items": await with_marks(services, [session_view(row, tz, masker) for row in page]),
        "next_cursor": session_cursor(page[-1]) if len(rows) > limit else None,
    }


@router.get(
    "/sessions/{session_id}/messages",
    response_model=SessionMessages,
    response_model_exclude_unset=True,
    responses=errors(400, 404, not_found="No session with this id."),
)
async def session_messages(
    session_id: Annotated[SessionPath, Path(description="session id")],
    services: Services = Depends(get_services),
    tz: Annotated[Zone | None, Query(description="adds *_local times in this zone")] = None,
    masker: Masker | None = Depends(content_masking),
) -> dict[str, Any]:
    """The conversation in order; tool rows decoded alongside their raw content."""
    session = await session_queries.get_session(services.store, session_id)
    if session is None:
        raise not_found(f"session {session_id!r}")
    rows = await message_queries.session_messages(services.store, session_id)
    return {
        "session": (await with_marks(services, [session_view(session, tz, masker)]))[0],
        "items": [message_view(r, tz, masker) for r in rows],
    }
