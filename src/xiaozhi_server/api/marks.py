"""Stars, notes and tags on sessions and messages.

Any role may read and change them (a viewer too: marks open nothing a viewer could not
read already, and every change is recorded in the audit trail: what changed, never the
note or the tags themselves). Lists, search and export filter by them (``starred``, ``tag``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from xiaozhi_server.api.contract import READER, errors
from xiaozhi_server.api.errors import not_found
from xiaozhi_server.api.mark_schemas import (
    MessageMarks,
    MessageMarksChange,
    SessionMarks,
    SessionMarksChange,
    TagList,
)
from xiaozhi_server.api.params import MAX_ID, SessionPath
from xiaozhi_server.auth.guard import Principal, client_address, require_reader
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import marks
from xiaozhi_server.store import sessions as session_queries
from xiaozhi_server.store.audit import AuditEntry, record
from xiaozhi_server.store.tables import SESSION_MARK

router = APIRouter(prefix="/api/v2", tags=["marks"], dependencies=READER)
MessagePath = Annotated[int, Path(ge=1, le=MAX_ID, description="message id")]
_NO_SESSION = errors(400, 404, not_found="No session with this id.")


@router.get("/sessions/{session_id}/marks", response_model=SessionMarks, responses=_NO_SESSION)
async def session_marks(
    session_id: Annotated[SessionPath, Path(description="session id")],
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """The session's star, note and tags, and those of its messages that carry any."""
    if await session_queries.get_session(services.store, session_id) is None:
        raise not_found(f"session {session_id!r}")
    found = await marks.marks_in_session(services.store, session_id)
    own = found.pop((session_id, SESSION_MARK), marks.empty())
    items = [_message_view(message_id, mark) for (_, message_id), mark in sorted(found.items())]
    return {"session_id": session_id, **own, "messages": items}


@router.patch("/sessions/{session_id}/marks", response_model=SessionMarks, responses=_NO_SESSION)
async def change_session_marks(
    session_id: Annotated[SessionPath, Path(description="session id")],
    change: SessionMarksChange,
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_reader),
) -> dict[str, Any]:
    """Star or unstar the session, set or remove its note, replace its tags."""
    given = change.model_fields_set
    wanted = marks.Change(
        starred=change.starred if "starred" in given else None,
        note=change.note or None,
        clear_note="note" in given and not change.note,
        tags=change.tags if "tags" in given else None,
    )
    await _apply(services, (session_id, SESSION_MARK), wanted, principal, request, given)
    return await session_marks(session_id, services)


@router.patch(
    "/messages/{message_id}/marks",
    response_model=MessageMarks,
    responses=errors(400, 404, not_found="No message with this id."),
)
async def change_message_marks(
    message_id: MessagePath,
    change: MessageMarksChange,
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_reader),
) -> dict[str, Any]:
    """Set or remove the message's note, replace its tags."""
    session_id = await marks.session_of_message(services.store, message_id)
    if session_id is None:
        raise not_found(f"message {message_id}")
    given = change.model_fields_set
    wanted = marks.Change(
        note=change.note or None,
        clear_note="note" in given and not change.note,
        tags=change.tags if "tags" in given else None,
    )
    current = await _apply(services, (session_id, message_id), wanted, principal, request, given)
    return _message_view(message_id, current)


@router.get("/tags", response_model=TagList)
async def tags(services: Services = Depends(get_services)) -> dict[str, Any]:
    """Every tag in use, by name, with how many sessions carry it."""
    return {"items": await marks.tag_counts(services.store)}


async def _apply(
    services: Services,
    target: marks.Target,
    wanted: marks.Change,
    principal: Principal,
    request: Request,
    given: set[str],
) -> dict[str, Any]:
    session_id, message_id = target
    what = f"session {session_id}" if message_id == SESSION_MARK else f"message {message_id}"
    try:
        current = await marks.change(services.store, target, wanted, principal.name)
    except marks.Gone:
        raise not_found(what) from None
    # What changed and how many tags there are now: never the note or the tags' words.
    detail: dict[str, Any] = {"changed": sorted(given), "tags": len(current["tags"])}
    if wanted.starred is not None:
        detail["starred"] = wanted.starred
    entry = AuditEntry(
        principal.name, principal.kind, "mark", what, client_address(request), detail
    )
    await record(services.store, entry)
    return current


def _message_view(message_id: int, mark: dict[str, Any]) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "note": mark["note"],
        "tags": mark["tags"],
        "updated_at": mark["updated_at"],
        "updated_by": mark["updated_by"],
    }


async def with_marks(services: Services, views: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Session views with their ``starred``, ``note`` and ``tags`` (one read for a page)."""
    targets = [(view["session_id"], SESSION_MARK) for view in views]
    found = await marks.marks_of(services.store, targets)
    return [view | _fields(found.get(target)) for view, target in zip(views, targets, strict=True)]


def _fields(found: dict[str, Any] | None) -> dict[str, Any]:
    found = found or marks.empty()
    return {"starred": found["starred"], "note": found["note"], "tags": found["tags"]}
