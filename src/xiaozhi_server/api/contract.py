"""What the OpenAPI document promises beyond the routes: errors, ways in, and fix-ups.

- Errors: every route lists the statuses it really answers, each with the one error shape.
- Ways in: the guards accept a bearer token, HTTP Basic or the console's session cookie;
  three schemes describe them, each with the role a route needs: ``[]`` any role,
  ``["admin"]`` admins only. Every route behind a guard documents 401 and 429, every
  admin route (and every route a viewer may call with ``unmask``) 403 — added here from
  the security requirements, so a route gets them by using a guard.
- Fix-ups: FastAPI lists 422 for invalid parameters, but they are answered 400; and an
  optional query parameter is "absent or a value", never JSON null.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from xiaozhi_server.api.params import TIME_ZONE_SCHEMA, time_zones
from xiaozhi_server.auth.guard import require_admin, require_reader
from xiaozhi_server.auth.schemes import BASIC, BEARER, SESSION

__all__ = ["ADMIN", "BASIC", "BEARER", "READER", "SESSION", "Timestamp", "errors"]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


# A time as FastAPI has always written them: isoformat(), '+00:00' rather than pydantic's 'Z'.
Timestamp = Annotated[
    datetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(
        description="bad_parameter, unauthorized, forbidden, not_found, conflict, "
        "range_not_satisfiable, too_many_requests, ...",
        examples=["bad_parameter"],
    )
    message: str = Field(examples=["limit: Input should be less than or equal to 100"])
    parameter: str | SkipJsonSchema[None] = Field(
        None, description="the parameter at fault (400 only)", examples=["limit"]
    )


class ErrorBody(BaseModel):
    """Every error of the API."""

    error: ErrorDetail


_MEANING = {
    400: "A parameter is malformed or out of bounds; `parameter` names it.",
    401: "No credentials, or wrong ones.",
    403: "The credentials are right, but their role may not do this (admins only).",
    404: "No such thing.",
    409: "The change conflicts with what is stored.",
    416: "The Range cannot be satisfied (beyond the end, last before first, or not bytes=).",
    429: "Too many failed sign-ins by name and password, for this name or from this address.",
}
_RETRY_AFTER = {
    "Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 0}}
}
_CHALLENGE = {
    "WWW-Authenticate": {"description": "the schemes accepted", "schema": {"type": "string"}}
}


def errors(
    *statuses: int, challenge: bool = True, not_found: str | None = None
) -> dict[int | str, Any]:
    """OpenAPI ``responses`` for ``statuses``, in the error shape.

    ``challenge``: a 401 carries WWW-Authenticate. ``not_found``: what a 404 means here.
    """
    responses: dict[int | str, Any] = {}
    for status in statuses:
        meaning = not_found if status == 404 and not_found else _MEANING[status]
        response: dict[str, Any] = {"model": ErrorBody, "description": meaning}
        if status == 429:
            response["headers"] = _RETRY_AFTER
        if status == 401 and challenge:
            response["headers"] = _CHALLENGE
        responses[status] = response
    return responses


# Reads and search (any role), and what only admins may do; each documents its ways in.
READER: list[Any] = [Depends(require_reader)]
ADMIN: list[Any] = [Depends(require_admin)]


def install_openapi(app: FastAPI) -> None:
    """Serve the document with the fix-ups above (built once, on first request)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = tidied(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def tidied(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without 422s or null parameters, with the time zone list and every
    guarded route's 401, 403 and 429."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
            for parameter in operation.get("parameters", []):
                parameter["schema"] = _without_null(parameter["schema"])
            _document_access(operation, schemas)
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas[TIME_ZONE_SCHEMA] = {
        "type": "string",
        "enum": sorted(time_zones()),
        "description": "an IANA time zone",
    }
    return document


def _without_null(schema: dict[str, Any]) -> dict[str, Any]:
    """A query value is absent or text: ``anyOf [X, null]`` is just X."""
    options = schema.get("anyOf")
    if not isinstance(options, list):
        return schema
    kept = [option for option in options if option != {"type": "null"}]
    if len(kept) != 1:
        return schema | {"anyOf": kept}
    rest = {key: value for key, value in schema.items() if key != "anyOf"}
    only: dict[str, Any] = kept[0]
    return only | rest


def _document_access(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """The error answers of a guarded operation: 401 and 429; 403 where a role may be short."""
    requirements = operation.get("security", [])
    if not requirements or {} in requirements:
        return  # open to anyone (sign-in), or credentials optional (sign-out)
    roles = {
        role for requirement in requirements for names in requirement.values() for role in names
    }
    unmask = any(p["name"] == "unmask" for p in operation.get("parameters", []))
    statuses = [401, 429] + ([403] if roles or unmask else [])
    responses = operation.setdefault("responses", {})
    for status in statuses:
        if str(status) not in responses:
            responses[str(status)] = _error_response(status, schemas)


def _error_response(status: int, schemas: dict[str, Any]) -> dict[str, Any]:
    if "ErrorBody" not in schemas:
        schema = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas["ErrorBody"] = schema
    response: dict[str, Any] = {
        "description": _MEANING[status],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
    }
    if status == 401:
        response["headers"] = _CHALLENGE
    if status == 429:
        response["headers"] = _RETRY_AFTER
    return response
