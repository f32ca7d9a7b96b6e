"""``GET /api/v2/audit``: the audit trail, newest first, for admins only.

Append-only from the API's point of view: there is no route to change or delete an entry.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xiaozhi_server.api.contract import ADMIN, errors
from xiaozhi_server.api.params import MAX_ID, page_limit
from xiaozhi_server.api.schemas import AuditPage
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import audit

router = APIRouter(prefix="/api/v2", tags=["audit"], dependencies=ADMIN)


@router.get("/audit", response_model=AuditPage, responses=errors(400))
async def audit_trail(
    services: Services = Depends(get_services),
    action: Annotated[
        str | None,
        Query(pattern="^[a-z_]{1,32}$", description="only this action, e.g. sign_in_failed"),
    ] = None,
    actor: Annotated[
        str | None,
        Query(min_length=1, max_length=64, pattern="^[^\\u0000]*$", description="only this actor"),
    ] = None,
    limit: Annotated[int, page_limit("entries")] = 50,
    before_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="next page: the next_before_id of this one")
    ] = None,
) -> dict[str, Any]:
    """Who did what, when, from where, to what: sign-ins (and failed ones), exports,
    unmasked reads, user changes, erasures and retention passes."""
    rows = await audit.entries(services.store, limit + 1, before_id, action, actor)
    page = rows[:limit]
    return {"items": page, "next_before_id": page[-1]["id"] if len(rows) > limit else None}
