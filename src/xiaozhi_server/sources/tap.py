"""The tap: a transparent reverse proxy in front of manager-api.

The core's ``manager-api.url`` points at the hub; every call is passed to the real
manager-api unchanged (method, path, query, headers, body) and its answer streamed back
unchanged. The hub only listens in on the chat-history reports.
"""

from __future__ import annotations

import logging

import httpx
from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from xiaozhi_server.ops.metrics import TAP_FORWARDS, UPSTREAM_CALLS
from xiaozhi_server.sources.envelope import failure

log = logging.getLogger(__name__)

# Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the message.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


class UpstreamProxy:
    """Forwards requests to manager-api at ``base_url`` (e.g. http://web:8002/xiaozhi)."""

    def __init__(self, base_url: str, timeout: float, max_connections: int) -> None:
        self._base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=max_connections),
            follow_redirects=False,
            trust_env=False,
        )

    async def forward(self, request: Request, path: str, body: bytes | None = None) -> Response:
        """Send ``request`` on to ``{base_url}/{path}``; stream the answer back as it comes."""
        url = f"{self._base_url}/{path.lstrip('/')}"
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
        content = body if body is not None else request.stream()
        upstream_request = self._client.build_request(
            request.method, url, params=request.url.query, headers=headers, content=content
        )
        try:
            answer = await self._client.send(upstream_request, stream=True)
        except httpx.TimeoutException:
            return _unavailable("timeout", 504, "manager-api did not answer in time")
        except httpx.TransportError as exc:
            log.warning("manager-api unreachable: %s", type(exc).__name__)
            return _unavailable("unreachable", 502, "manager-api is unreachable")
        outcome = "upstream_error" if answer.status_code >= 500 else "ok"
        TAP_FORWARDS.labels(outcome).inc()
        UPSTREAM_CALLS.labels(
            "manager_api", "failure" if answer.status_code >= 500 else "success"
        ).inc()
        return StreamingResponse(
            answer.aiter_raw(),
            status_code=answer.status_code,
            headers={
                k: v
                for k, v in answer.headers.items()
                if k.lower() not in _HOP_BY_HOP - {"content-length"}
            },
            background=BackgroundTask(answer.aclose),
        )

    async def close(self) -> None:
        """Close pooled connections."""
        await self._client.aclose()


def _unavailable(outcome: str, status: int, message: str) -> Response:
    TAP_FORWARDS.labels(outcome).inc()
    UPSTREAM_CALLS.labels("manager_api", "failure").inc()
    return failure(status, message)
