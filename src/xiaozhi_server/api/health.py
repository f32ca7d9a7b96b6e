"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from xiaozhi_server.api.deps import get_services
from xiaozhi_server.services import Services
from xiaozhi_server.store import migrate

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and answering."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: Services = Depends(get_services)) -> JSONResponse:
    """Ready when the store answers and is migrated; lists each component's state."""
    components: dict[str, dict[str, Any]] = {"store": await _store_state(services)}
    components["events"] = _events_state(services)
    ready = all(c["state"] != "unavailable" for c in components.values())
    body = {"status": "ready" if ready else "unavailable", "components": components}
    return JSONResponse(body, status_code=200 if ready else 503)


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
