"""A stand-in for the Java manager-api (it cannot run here), following ../shared/UPSTREAM.md.

It records every request it receives and answers with manager-api's envelope.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.support.servers import free_port


@dataclass(frozen=True)
class Received:
    """One request as the stand-in saw it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class StandIn:
    """What the test can see and steer of the stand-in."""

    url: str
    received: list[Received] = field(default_factory=list)
    report_answer: dict[str, object] = field(
        default_factory=lambda: {"code": 0, "msg": "success", "data": True}
    )


def _app(state: StandIn) -> Starlette:
    async def record(request: Request) -> Received:
        received = Received(
            request.method,
            request.url.path,
            request.url.query,
            {k.lower(): v for k, v in request.headers.items()},
            await request.body(),
        )
        state.received.append(received)
        return received

    async def report(request: Request) -> Response:
        await record(request)
        return JSONResponse(state.report_answer)

    async def server_base(request: Request) -> Response:
        await record(request)
        data = {"server": {"ip": "0.0.0.0", "port": 8000}, "selected_module": {"LLM": "ChatGLMLLM"}}
        response = JSONResponse({"code": 0, "msg": "success", "data": data})
        response.headers["X-Upstream"] = "manager-api stand-in"
        return response

    async def failing(request: Request) -> Response:
        await record(request)
        return JSONResponse({"code": 500, "msg": "服务器内部异常", "data": None}, status_code=500)

    async def anything(request: Request) -> Response:
        received = await record(request)
        return Response(
            received.body or b"ok", status_code=201, media_type="application/octet-stream"
        )

    return Starlette(
        routes=[
            Route("/xiaozhi/agent/chat-history/report", report, methods=["POST"]),
            Route("/xiaozhi/config/server-base", server_base, methods=["POST"]),
            Route("/xiaozhi/fails", failing, methods=["GET", "POST"]),
            Route("/xiaozhi/{rest:path}", anything, methods=["GET", "POST", "PUT", "DELETE"]),
        ]
    )


@contextmanager
def manager_api_stand_in() -> Iterator[StandIn]:
    """Serve the stand-in on 127.0.0.1 until the block ends."""
    port = free_port()
    state = StandIn(url=f"http://127.0.0.1:{port}/xiaozhi")
    server = uvicorn.Server(
        uvicorn.Config(_app(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("stand-in did not start")
        time.sleep(0.02)
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=30)
