"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from xiaozhi_server.auth.guard import SignInThrottled
from xiaozhi_server.ops.features import effective_features
from xiaozhi_server.realtime.bus import jsonable
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.sources.sync import SERVICE as SYNC_SERVICE
from xiaozhi_server.store import migrate
from xiaozhi_server.store.sync_state import all_sync_status

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and answering."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request, services: Services = Depends(get_services)) -> JSONResponse:
    """Ready when the store answers and is migrated; lists each component's state. The
    states are public (probes send no credentials); the details (errors naming hosts and
    ports, revisions, times) only go to an admin."""
    components: dict[str, dict[str, Any]] = {"store": await _store_state(services)}
    components["events"] = _events_state(services)
    if (
        effective_features(services.settings)["sync"].enabled
        and components["store"]["state"] == "ready"
    ):
        components["upstream"] = await _upstream_state(services)
    states = {c["state"] for c in components.values()}
    status = (
        "unavailable"
        if "unavailable" in states
        else "degraded"
        if "degraded" in states
        else "ready"
    )
    if not await _signed_in(request, services):
        components = {name: {"state": c["state"]} for name, c in components.items()}
    body = {"status": status, "components": components}
    # Degraded still serves everything the store holds: load balancers keep sending traffic.
    return JSONResponse(body, status_code=503 if status == "unavailable" else 200)


async def _signed_in(request: Request, services: Services) -> bool:
    try:
        return await services.authenticator.authenticate(request) is not None
    except SignInThrottled:
        return False  # a probe is never refused: a locked caller just sees the states


async def _upstream_state(services: Services) -> dict[str, Any]:
    rows = [r for r in await all_sync_status(services.store) if r["service_name"] == SYNC_SERVICE]
    if not rows:
        return {"state": "starting"}
    row = rows[0]
    state = {
        "state": "degraded" if row["sync_status"] == "failed" else "ready",
        "last_success_at": row["last_success_at"],
        "last_sync_time": row["last_sync_time"],
    }
    if row["sync_status"] == "failed":
        state["error"] = row["error_message"]
    shown: dict[str, Any] = jsonable(state)
    return shown


def _events_state(services: Services) -> dict[str, Any]:
    state: dict[str, Any] = {"state": "ready", "backend": "memory"}
    if services.bridge is not None:
        connected = services.bridge.connected
        # Without Redis this instance still serves its own clients: degraded, not down.
        state = {"state": "ready" if connected else "degraded", "backend": "redis"}
        if services.bridge.last_error:
            state["error"] = services.bridge.last_error
    state["subscribers"] = services.feed.clients
    return state


async def _store_state(services: Services) -> dict[str, Any]:
    store = services.store
    try:
        revision = await migrate.current_revision(store.engine)
    except (SQLAlchemyError, OSError) as exc:
        return {"state": "unavailable", "dialect": store.dialect, "error": type(exc).__name__}
    head = migrate.head_revision()
    if revision != head:
        detail = (
            f"at revision {revision or 'none'}, expected {head}: run 'xiaozhi-server db upgrade'"
        )
        return {"state": "unavailable", "dialect": store.dialect, "error": detail}
    return {"state": "ready", "dialect": store.dialect, "revision": revision}
