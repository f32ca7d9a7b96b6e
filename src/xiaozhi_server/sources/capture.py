"""Live capture: the manager-api-compatible report endpoint, and the tap around it."""

from __future__ import annotations

import hmac
import logging

from fastapi import APIRouter, Request, Response

from xiaozhi_server.ops.metrics import REPORTS
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.sources.envelope import failure, success
from xiaozhi_server.sources.report import ReportError, ReportLimits, parse_report

log = logging.getLogger(__name__)

REPORT_PATH = "/agent/chat-history/report"
_ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


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


async def _capture(request: Request, services: Services) -> None:
    """Check, parse and durably store one report; raise ReportError if it is refused."""
    settings = services.settings
    try:
        _check_secret(request, services)
        _check_content_type(request)
        limits = ReportLimits(settings.capture.max_content_chars, settings.capture.max_audio_bytes)
        body = await _read_body(request, _body_limit(limits))
        batch = parse_report(body, limits)
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
    REPORTS.labels("stored").inc()


async def _capture_and_forward(request: Request, services: Services) -> Response:
    """Tap mode: keep a copy if the report is acceptable, and always let manager-api decide."""
    body = await request.body()  # cached: _capture reads it again from the request
    try:
        await _capture(request, services)
    except ReportError as exc:
        log.info("report forwarded but not captured: %s", exc)
    assert services.proxy is not None
    return await services.proxy.forward(request, REPORT_PATH, body)


def _check_secret(request: Request, services: Services) -> None:
    secret = services.settings.auth.report_secret
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if secret is None:
        raise ReportError("the hub has no auth.report_secret configured; reports are refused", 401)
    expected = secret.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
        raise ReportError("Authorization: Bearer <server.secret> missing or wrong", 401)


def _check_content_type(request: Request) -> None:
    # manager-api reads the body with Jackson: JSON media types only, anything else is 415.
    given = request.headers.get("content-type", "")
    media_type = given.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    if media_type == "application/json" or (kind == "application" and subtype.endswith("+json")):
        return
    shown = repr(media_type[:80]) if media_type else "missing"
    raise ReportError(f"Content-Type {shown} is not supported: send application/json", 415)


async def _read_body(request: Request, limit: int) -> bytes:
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            raise ReportError(f"body: larger than {limit} bytes", 413)
    return bytes(body)


def _body_limit(limits: ReportLimits) -> int:
    # Base64 audio (4/3), content as escaped JSON (up to 6 bytes a character), field names.
    return limits.max_audio_bytes * 4 // 3 + limits.max_content_chars * 6 + 64 * 1024


def _outcome(error: ReportError) -> str:
    return {401: "unauthorized", 413: "too_large", 415: "unsupported_media_type"}.get(
        error.status, "invalid"
    )
