"""Full-text search across every device and agent (Chinese included)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xiaozhi_server.api.contract import ADMIN, ADMIN_ERRORS, errors
from xiaozhi_server.api.devices import resolve_device
from xiaozhi_server.api.params import (
    MAX_ID,
    AgentRef,
    DeviceRef,
    SearchText,
    Time,
    Zone,
    page_limit,
)
from xiaozhi_server.api.schemas import SearchResults
from xiaozhi_server.api.views import message_view
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store.search import search_messages

router = APIRouter(prefix="/api/v2", tags=["search"], dependencies=ADMIN, responses=ADMIN_ERRORS)
SNIPPET_CONTEXT = 40


@router.get(
    "/messages/search",
    response_model=SearchResults,
    response_model_exclude_unset=True,
    responses=errors(400, 404, not_found="No device with this MAC or upstream id."),
)
async def search(
    q: Annotated[SearchText, Query(description="text to find (any language; case-insensitive)")],
    services: Services = Depends(get_services),
    device: Annotated[
        DeviceRef | None, Query(description="MAC (any spelling) or upstream device id")
    ] = None,
    agent: Annotated[AgentRef | None, Query(description="agent id")] = None,
    chat_type: Annotated[
        int | None, Query(ge=1, le=3, description="1 user, 2 agent, 3 tool")
    ] = None,
    from_: Annotated[Time, Query(alias="from", description="messages created at or after")] = None,
    to: Annotated[Time, Query(description="messages created before")] = None,
    limit: Annotated[int, page_limit("messages")] = 20,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next page: the next_before_id of this one")
    ] = None,
    tz: Annotated[Zone | None, Query(description="adds created_at_local in this zone")] = None,
) -> dict[str, Any]:
    """Messages containing ``q``, newest first, each with a snippet and highlight ranges."""
    query = q.strip()
    mac = (await resolve_device(services, device))["mac"] if device else None
    rows = await search_messages(
        services.store, query, limit + 1, before_id, mac, agent, chat_type, from_, to
    )
    page = rows[:limit]
    return {
        "items": [message_view(row, tz) | snippet(row["content"], query) for row in page],
        "next_before_id": page[-1]["id"] if len(rows) > limit else None,
    }


def snippet(content: str, query: str) -> dict[str, Any]:
    """Text around the first hit, and [start, end) ranges of every hit within it."""
    lowered, needle = content.lower(), query.lower()
    first = max(lowered.find(needle), 0)
    start = max(first - SNIPPET_CONTEXT, 0)
    end = min(first + len(needle) + SNIPPET_CONTEXT, len(content))
    text = content[start:end]
    ranges, at = [], text.lower().find(needle) if needle else -1
    while at >= 0:  # an empty needle would match everywhere, forever
        ranges.append([at, at + len(needle)])
        at = text.lower().find(needle, at + len(needle))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(content) else ""
    shift = len(prefix)
    return {
        "snippet": prefix + text + suffix,
        "highlights": [[a + shift, b + shift] for a, b in ranges],
    }
