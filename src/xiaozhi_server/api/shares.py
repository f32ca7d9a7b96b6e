"""Share links: ``POST /api/v2/sessions/{id}/share``, ``GET /api/v2/shares``,
``DELETE /api/v2/shares/{id}``; the link itself is served by api/share_page.py.

Admins only: a link hands a conversation to people without an account, as an export
does. Creating and revoking are recorded in the audit trail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request

from xiaozhi_server.api.contract import ADMIN, errors
from xiaozhi_server.api.errors import not_found
from xiaozhi_server.api.mark_schemas import (
    RevokedShare,
    ShareCreated,
    ShareList,
    ShareRequest,
)
from xiaozhi_server.api.params import SessionPath
from xiaozhi_server.auth.guard import Principal, client_address, require_admin
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import shares
from xiaozhi_server.store.audit import AuditEntry, record
from xiaozhi_server.store.tables import SHARE_ID_LEN

router = APIRouter(prefix="/api/v2", tags=["shares"], dependencies=ADMIN)
SHARE_PATH = "/share"
ShareId = Annotated[
    str,
    Path(
        min_length=1,
        max_length=SHARE_ID_LEN,
        pattern="^[A-Za-z0-9_-]+$",
        description="the id POST answered (not the link's secret)",
    ),
]


@router.post(
    "/sessions/{session_id}/share",
    response_model=ShareCreated,
    status_code=201,
    responses=errors(400, 404, not_found="No session with this id."),
)
async def share_session(
    session_id: Annotated[SessionPath, Path(description="session id")],
    request: Request,
    wanted: Annotated[ShareRequest | None, Body()] = None,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_admin),
) -> dict[str, Any]:
    """A read-only link to the session (audio included) that works without signing in
    until it expires (default 7 days) or is revoked; its URL is shown only now."""
    days = (wanted or ShareRequest()).expires_in_days
    now = datetime.now(UTC)
    created = await shares.create(
        services.store, session_id, principal.name, now, now + timedelta(days=days)
    )
    if created is None:
        raise not_found(f"session {session_id!r}")
    share, token = created
    detail = {"share": share["id"], "expires_at": share["expires_at"].isoformat()}
    await _audit(services, principal, request, "share", session_id, detail)
    return {
        "id": share["id"],
        "url": f"{SHARE_PATH}/{token}",
        "expires_at": share["expires_at"],
        "session_id": session_id,
    }


@router.get("/shares", response_model=ShareList)
async def list_shares(services: Services = Depends(get_services)) -> dict[str, Any]:
    """Every share link, newest first, with its session's title and whether it expired."""
    now = datetime.now(UTC)
    items = await shares.listed(services.store)
    return {"items": [item | {"expired": item["expires_at"] <= now} for item in items]}


@router.delete(
    "/shares/{share_id}",
    response_model=RevokedShare,
    responses=errors(400, 404, not_found="No share with this id."),
)
async def revoke_share(
    share_id: ShareId,
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_admin),
) -> dict[str, str]:
    """Revoke the link: it answers 404 from now on."""
    revoked = await shares.revoke(services.store, share_id)
    if revoked is None:
        raise not_found(f"share {share_id!r}")
    detail = {"share": share_id}
    await _audit(services, principal, request, "share_revoke", revoked["session_id"], detail)
    return {"revoked": share_id}


async def _audit(
    services: Services,
    principal: Principal,
    request: Request,
    action: str,
    session_id: str,
    detail: dict[str, Any],
) -> None:
    target = f"session {session_id}"
    address = client_address(request)
    await record(
        services.store, AuditEntry(principal.name, principal.kind, action, target, address, detail)
    )
