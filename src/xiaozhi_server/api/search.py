"""Full-text search across every device and agent (Chinese included).

With masking on, search still runs over the text as stored. Whoever may unmask (admins)
finds a message by a masked value too, and sees the hit masked unless they pass
``unmask=true``. A viewer finds only what the masked text shows: searching for a masked
phone number must not tell a viewer that someone said it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xiaozhi_server.api.contract import READER, errors
from xiaozhi_server.api.devices import resolve_device
from xiaozhi_server.api.mark_schemas import StarredFilter, TagFilter
from xiaozhi_server.api.params import (
    MAX_ID,
    AgentRef,
    DeviceRef,
    SearchText,
    SpeakerName,
    Time,
    Zone,
    page_limit,
)
from xiaozhi_server.api.schemas import SearchResults
from xiaozhi_server.api.unmask import content_masking
from xiaozhi_server.api.views import message_view
from xiaozhi_server.auth.guard import Principal, require_reader
from xiaozhi_server.privacy.masking import Masker
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store.search import search_messages
from xiaozhi_server.store.search_terms import contains, fold

router = APIRouter(prefix="/api/v2", tags=["search"], dependencies=READER)
SNIPPET_CONTEXT = 40
# A viewer's page may skip hits only the stored text has: read at most this many pages.
_MAX_ROUNDS = 5


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
    starred: StarredFilter = None,
    tag: TagFilter = None,
    speaker: Annotated[
        SpeakerName | None, Query(description="user turns of this speaker (voiceprint name)")
    ] = None,
    limit: Annotated[int, page_limit("messages")] = 20,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next page: the next_before_id of this one")
    ] = None,
    tz: Annotated[Zone | None, Query(description="adds created_at_local in this zone")] = None,
    masker: Masker | None = Depends(content_masking),
    principal: Principal = Depends(require_reader),
) -> dict[str, Any]:
    """Messages containing ``q``, newest first, each with a snippet and highlight ranges.

    A page may hold fewer than ``limit`` hits while ``next_before_id`` is set: go on.
    """
    query = q.strip()
    mac = (await resolve_device(services, device))["mac"] if device else None
    searched = masker.text if masker and not principal.may("unmask") else _as_stored

    async def page_of(below: int | None) -> list[dict[str, Any]]:
        return await search_messages(
            services.store,
            query,
            limit + 1,
            below,
            mac,
            agent,
            chat_type,
            from_,
            to,
            starred=starred,
            tag=tag,
            speaker=speaker,
        )

    page, next_before_id = await _visible_hits(page_of, query, limit, before_id, searched)
    items = []
    for row in page:
        shown = message_view(row, tz, masker)
        items.append(shown | snippet(searched(row["content"]), query, shown["content"]))
    return {"items": items, "next_before_id": next_before_id}


def _as_stored(content: str) -> str:
    return content


async def _visible_hits(
    page_of: Callable[[int | None], Any],
    query: str,
    limit: int,
    before_id: int | None,
    searched: Callable[[str], str],
) -> tuple[list[dict[str, Any]], int | None]:
    """Up to ``limit`` rows whose ``searched`` text holds ``query``, and where to go on."""
    found: list[dict[str, Any]] = []
    below = before_id
    for _ in range(_MAX_ROUNDS):
        rows: list[dict[str, Any]] = await page_of(below)
        for row in rows:
            if _still_found(row["content"], query, searched):
                found.append(row)
                if len(found) > limit:
                    return found[:limit], found[limit - 1]["id"]
        if len(rows) <= limit:
            return found, None
        below = rows[-1]["id"]
    return found, below  # read enough for one request: the next page goes on from here


def _still_found(content: str, query: str, searched: Callable[[str], str]) -> bool:
    """Whether the text (as this reader may search it) holds ``query``: one definition on
    every store, whose LIKE may also match other cases and accents (MariaDB's é = e), and
    false where masking hid every place the store found it."""
    return contains(searched(content), query)


def snippet(content: str, query: str, shown: str | None = None) -> dict[str, Any]:
    """Text around the first hit, and [start, end) ranges of every hit within it.

    Hits are found in ``content``; the text comes from ``shown`` (the same text masked,
    which keeps every position) when given.
    """
    shown = content if shown is None else shown
    lowered, needle = fold(content), fold(query)
    first = max(lowered.find(needle), 0)
    start = max(first - SNIPPET_CONTEXT, 0)
    end = min(first + len(needle) + SNIPPET_CONTEXT, len(content))
    window = fold(content[start:end])
    ranges, at = [], window.find(needle) if needle else -1
    while at >= 0:  # an empty needle would match everywhere, forever
        ranges.append([at, at + len(needle)])
        at = window.find(needle, at + len(needle))
    text = shown[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(content) else ""
    shift = len(prefix)
    return {
        "snippet": prefix + text + suffix,
        "highlights": [[a + shift, b + shift] for a, b in ranges],
    }
