"""Full-text search across every device and agent (Chinese included)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from xiaozhi_server.api.devices import resolve_device
from xiaozhi_server.api.errors import bad_parameter
from xiaozhi_server.api.params import page_size, time_param, zone_param
from xiaozhi_server.api.views import message_view
from xiaozhi_server.auth.guard import require_admin
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store.search import search_messages

router = APIRouter(prefix="/api/v2", tags=["search"], dependencies=[Depends(require_admin)])
SNIPPET_CONTEXT = 40


@router.get("/messages/search")
async def search(
    services: Services = Depends(get_services),
    q: str = Query(..., description="text to find (any language; case-insensitive)"),
    device: str | None = None,
    agent: str | None = None,
    chat_type: int | None = Query(None, description="1 user, 2 agent, 3 tool"),
    from_: str | None = Query(None, alias="from"),
    to: str | None = None,
    limit: int | None = None,
    before_id: int | None = Query(None, description="next page: the last id of this one"),
    tz: str | None = None,
) -> dict[str, Any]:
    """Messages containing ``q``, newest first, each with a snippet and highlight ranges."""
    query = q.strip()
    if not query or len(query) > 200:
        raise bad_parameter("q", "must be 1 to 200 characters")
    if chat_type not in (None, 1, 2, 3):
        raise bad_parameter("chat_type", "must be 1, 2 or 3")
    zone = zone_param(tz)
    size = page_size(limit)
    mac = (await resolve_device(services, device))["mac"] if device else None
    rows = await search_messages(
        services.store,
        query,
        size + 1,
        before_id,
        mac,
        agent,
        chat_type,
        time_param(from_, "from"),
        time_param(to, "to"),
    )
    page = rows[:size]
    return {
        "items": [message_view(row, zone) | snippet(row["content"], query) for row in page],
        "next_before_id": page[-1]["id"] if len(rows) > size else None,
    }


def snippet(content: str, query: str) -> dict[str, Any]:
    """Text around the first hit, and [start, end) ranges of every hit within it."""
    lowered, needle = content.lower(), query.lower()
    first = max(lowered.find(needle), 0)
    start = max(first - SNIPPET_CONTEXT, 0)
    end = min(first + len(needle) + SNIPPET_CONTEXT, len(content))
    text = content[start:end]
    ranges, at = [], text.lower().find(needle)
    while at >= 0:
        ranges.append([at, at + len(needle)])
        at = text.lower().find(needle, at + len(needle))
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(content) else ""
    shift = len(prefix)
    return {
        "snippet": prefix + text + suffix,
        "highlights": [[a + shift, b + shift] for a, b in ranges],
    }
