"""Per-route HTTP latency for Prometheus, as a plain ASGI middleware."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xiaozhi_server.ops.metrics import HTTP_LATENCY


class LatencyMiddleware:
    """Times every HTTP request and labels it with its route template (not the raw path,
    so ids in paths do not explode the label set)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def remember_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, remember_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_LATENCY.labels(route, scope["method"], f"{status // 100}xx").observe(
                time.perf_counter() - started
            )
