"""Where a capability is turned off, its paths answer 404 with the reason."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse

from xiaozhi_server.api.errors import error_body
from xiaozhi_server.config import Settings
from xiaozhi_server.ops.features import effective_features
from xiaozhi_server.sources.envelope import failure

CLOSE_DISABLED = 4404


def disabled_router(settings: Settings) -> APIRouter:
    """404 routes for the report endpoint, export and the feed when they are off."""
    router = APIRouter(include_in_schema=False)
    features = effective_features(settings)

    def reason(name: str) -> str:
        return f"{name} is turned off: {features[name].reason} (features.{name})"

    # With the tap on, a report still goes to manager-api, just without a copy here.
    if not features["capture"].enabled and not features["tap"].enabled:

        @router.post(f"{settings.capture.prefix}/agent/chat-history/report")
        async def report_off() -> JSONResponse:
            return failure(404, reason("capture"))

    if not features["export"].enabled:

        @router.get("/api/v2/export")
        async def export_off() -> JSONResponse:
            return JSONResponse(error_body(404, reason("export")), 404)

    if not features["console"].enabled:

        @router.get("/")
        async def console_off() -> JSONResponse:
            return JSONResponse(error_body(404, reason("console")), 404)

    if not features["notifications"].enabled:

        @router.websocket("/ws/admin")
        async def feed_off(websocket: WebSocket) -> None:
            await websocket.accept()
            await websocket.close(CLOSE_DISABLED, reason("notifications"))

    return router
