"""Live capture: the manager-api-compatible report endpoint, and the tap around it.

The report endpoint is the hub's hottest route: every turn of every device. Besides the
FastAPI route (documented in the OpenAPI schema, used in tap mode and for any spelling of
the path the router normalises), ``ReportFastPath`` answers ``POST`` on the exact path as
a plain ASGI handler, inside the app's own middlewares (request id, security headers,
latency metrics) but before FastAPI's router: with some 60 routes ahead of it, routing and
dependency solving cost more than parsing and storing the report. Both run ``_store``.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from xiaozhi_server.ops.metrics import REPORTS
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.sources.envelope import failure, success
from xiaozhi_server.sources.report import ReportError, ReportLimits, parse_report

log = logging.getLogger(__name__)

REPORT_PATH = "/agent/chat-history/report"
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
_STORED = REPORTS.labels("stored")
_SUCCESS = b'{"code":0,"msg":"success","data":true}'  # what success(True) renders
_SUCCESS_LENGTH = str(len(_SUCCESS)).encode()


def capture_router(prefix: str, capture: bool, tap: bool) -> APIRouter:
    """Routes under ``prefix``: the report endpoint if ``capture``, the proxy if ``tap``."""
    router = APIRouter(prefix=prefix, tags=["capture (manager-api compatible)"])

    if capture:

        @router.post(REPORT_PATH)
        async def report(request: Request) -> Response:
            """Store one chat turn as the core reports it (manager-api's contract)."""
            services = get_services(request)
            if services.proxy is not None:
                return await _capture_and_forward(request, services)
            try:
                await _capture(request, services)
            except ReportError as exc:
                return failure(exc.status, str(exc))
            return success(True)

    if tap:

        @router.api_route("/{path:path}", methods=_ALL_METHODS, include_in_schema=False)
        async def forward_to_manager_api(request: Request, path: str) -> Response:
            """Everything else goes to manager-api unchanged."""
            proxy = get_services(request).proxy
            assert proxy is not None, "the tap route is mounted only with a proxy"
            return await proxy.forward(request, path)

    return router


class ReportFastPath:
    """ASGI middleware: ``POST {prefix}/agent/chat-history/report`` answered here, the same
    way the route answers it; everything else passes on to the app."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.path = prefix + REPORT_PATH
        # what the latency metric labels requests with (the route's template)
        self.route = _RouteName(self.path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route
        services: Services = scope["app"].state.services
        try:
            headers = _headers(scope)
            _check_request(services, headers.get(b"authorization"), headers.get(b"content-type"))
            body = await _receive_body(receive, _body_limit(_limits(services)))
            await _store(services, body)
        except ReportError as exc:
            await failure(exc.status, str(exc))(scope, receive, send)
            return
        except _Disconnected:
            return
        await _send_success(send)


async def _send_success(send: Send) -> None:
    # A fresh header list each time: a middleware may append to it.
    headers = [(b"content-length", _SUCCESS_LENGTH), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _SUCCESS})


class _RouteName:
    def __init__(self, path: str) -> None:
        self.path = path


class _Disconnected(Exception):
    """The client went away before its body arrived: nothing to answer."""


async def _capture(request: Request, services: Services) -> None:
    """Check, parse and durably store one report; raise ReportError if it is refused."""
    _check_request(
        services,
        request.headers.get("authorization", "").encode("latin-1"),
        request.headers.get("content-type", "").encode("latin-1"),
    )
    await _store(services, await _read_body(request, _body_limit(_limits(services))))


async def _store(services: Services, body: bytes) -> None:
    """Parse and durably store one report body; raise ReportError if it is refused."""
    try:
        batch = parse_report(body, _limits(services))
    except ReportError as exc:
        REPORTS.labels(_outcome(exc)).inc()
        raise
    try:
        result = await services.committer.submit(batch)
    except Exception as exc:
        REPORTS.labels("store_error").inc()
        log.error("report not stored: %s: %s", type(exc).__name__, exc)
        raise ReportError("the hub's store is unavailable; retry later", 503) from None
    if result.rejected:
        REPORTS.labels("invalid").inc()
        raise ReportError(result.rejected[0].reason)
    _STORED.inc()


async def _capture_and_forward(request: Request, services: Services) -> Response:
    """Tap mode: keep a copy if the report is acceptable, and always let manager-api decide."""
    body = await request.body()  # cached: _capture reads it again from the request
    try:
        await _capture(request, services)
    except ReportError as exc:
        log.info("report forwarded but not captured: %s", exc)
    assert services.proxy is not None
    return await services.proxy.forward(request, REPORT_PATH, body)


def _check_request(
    services: Services, authorization: bytes | None, content_type: bytes | None
) -> None:
    try:
        _check_secret(services, authorization or b"")
        _check_content_type((content_type or b"").decode("latin-1"))
    except ReportError as exc:
        REPORTS.labels(_outcome(exc)).inc()
        raise


def _check_secret(services: Services, authorization: bytes) -> None:
    secret = services.settings.auth.report_secret
    scheme, _, token = authorization.partition(b" ")
    if secret is None:
        raise ReportError("the hub has no auth.report_secret configured; reports are refused", 401)
    expected = secret.get_secret_value().encode()
    if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), expected):
        raise ReportError("Authorization: Bearer <server.secret> missing or wrong", 401)


def _check_content_type(given: str) -> None:
    # manager-api reads the body with Jackson: JSON media types only, anything else is 415.
    media_type = given.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    if media_type == "application/json" or (kind == "application" and subtype.endswith("+json")):
        return
    shown = repr(media_type[:80]) if media_type else "missing"
    raise ReportError(f"Content-Type {shown} is not supported: send application/json", 415)


def _headers(scope: Scope) -> dict[bytes, bytes]:
    # ASGI header names are lower case; the first of a repeated header wins, as Starlette's.
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name, value)
    return headers


async def _receive_body(receive: Receive, limit: int) -> bytes:
    body = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        body.extend(message.get("body", b""))
        if len(body) > limit:
            REPORTS.labels("too_large").inc()
            raise ReportError(f"body: larger than {limit} bytes", 413)
        if not message.get("more_body", False):
            return bytes(body)


async def _read_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            REPORTS.labels("too_large").inc()
            raise ReportError(f"body: larger than {limit} bytes", 413)
    return bytes(body)


def _limits(services: Services) -> ReportLimits:
    capture = services.settings.capture
    return ReportLimits(capture.max_content_chars, capture.max_audio_bytes)


def _body_limit(limits: ReportLimits) -> int:
    # Base64 audio (4/3), content as escaped JSON (up to 6 bytes a character), field names.
    return limits.max_audio_bytes * 4 // 3 + limits.max_content_chars * 6 + 64 * 1024


def _outcome(error: ReportError) -> str:
    return {401: "unauthorized", 413: "too_large", 415: "unsupported_media_type"}.get(
        error.status, "invalid"
    )
