"""manager-api's response envelope: ``{"code": 0, "msg": "success", "data": ...}``."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


def success(data: Any) -> JSONResponse:
    """``code`` 0 with ``data``, as manager-api answers."""
    return JSONResponse({"code": 0, "msg": "success", "data": data})


def failure(status: int, message: str) -> JSONResponse:
    """A non-zero ``code`` (the HTTP status) with a message the core will log."""
    return JSONResponse({"code": status, "msg": message, "data": None}, status_code=status)
