"""Console sign-in: an admin's name and password for a session (cookie and token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from xiaozhi_server.api.errors import ApiError
from xiaozhi_server.auth.guard import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Principal,
    client_address,
    require_admin,
)
from xiaozhi_server.services import Services, get_services

router = APIRouter(prefix="/api/v2/auth", tags=["sign-in"])


class Credentials(BaseModel):
    """An admin's name and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post("/login")
async def login(
    credentials: Credentials,
    request: Request,
    response: Response,
    services: Services = Depends(get_services),
) -> dict[str, Any]:
    """Check the password; answer a session token and set it as an HttpOnly cookie.

    Too many wrong passwords for a name or from an address answer 429 with Retry-After.
    """
    principal = await services.authenticator.check_password(
        credentials.username, credentials.password, client_address(request)
    )
    if principal is None:
        raise ApiError(401, "wrong name or password")
    token, expires = await services.authenticator.start_session(principal.name)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        httponly=True,
        samesite="strict",
        path="/",
    )
    return {"username": principal.name, "token": token, "expires_at": expires}


@router.post("/logout")
async def logout(
    request: Request, response: Response, services: Services = Depends(get_services)
) -> dict[str, bool]:
    """End the session (cookie or bearer token) at once."""
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    token = request.cookies.get(SESSION_COOKIE) or (
        bearer.strip() if scheme.lower() == "bearer" else ""
    )
    if token:
        await services.authenticator.end_session(token)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"signed_out": True}


@router.get("/me")
async def me(principal: Principal = Depends(require_admin)) -> dict[str, str]:
    """Who is signed in."""
    return {"username": principal.name, "kind": principal.kind}
