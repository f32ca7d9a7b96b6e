"""One error shape for every /api/v2 endpoint: ``{"error": {"code", "message", "parameter"}}``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from xiaozhi_server.auth.guard import SignInThrottled

_CODES = {
    400: "bad_parameter",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    429: "too_many_requests",
    503: "unavailable",
}


class ApiError(Exception):
    """An error an endpoint answers with: status, message and the parameter at fault."""

    def __init__(self, status: int, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameter = parameter


def bad_parameter(parameter: str, message: str) -> ApiError:
    """400 naming ``parameter``."""
    return ApiError(400, f"{parameter}: {message}", parameter)


def not_found(what: str) -> ApiError:
    """404 for an unknown id."""
    return ApiError(404, f"{what} not found")


def error_body(status: int, message: str, parameter: str | None = None) -> dict[str, Any]:
    """The JSON body of an error."""
    error: dict[str, Any] = {"code": _CODES.get(status, "error"), "message": message}
    if parameter is not None:
        error["parameter"] = parameter
    return {"error": error}


def install_error_handlers(app: FastAPI) -> None:
    """Answer API errors, invalid parameters and HTTP errors in the one shape."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(error_body(exc.status, exc.message, exc.parameter), exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        # The innermost name: ("query", "limit") → limit; ("body", 0) for bad JSON → body.
        names = [part for part in first.get("loc", ()) if isinstance(part, str)]
        parameter = names[-1] if names else "request"
        message = f"{parameter}: {first['msg']}"
        return JSONResponse(error_body(400, message, parameter), 400)

    @app.exception_handler(SignInThrottled)
    async def throttled(_: Request, exc: SignInThrottled) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(error_body(429, str(exc)), 429, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = exc.headers
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request)}
        return JSONResponse(
            error_body(exc.status_code, str(exc.detail)), exc.status_code, headers=headers
        )


def allowed_methods(request: Request) -> str:
    """Every method some route takes at this path (Starlette names only the first route's,
    when, say, GET and POST of one path are two routes)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))
