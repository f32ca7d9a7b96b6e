"""Console sign-in: a user's name and password for a session (cookie and token)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response, Security
from pydantic import AfterValidator, BaseModel, Field
from pydantic_core import PydanticCustomError

from xiaozhi_server.api.contract import (
    BEARER,
    READER,
    SESSION,
    Timestamp,
    errors,
)
from xiaozhi_server.api.errors import ApiError
from xiaozhi_server.auth.guard import (
    SESSION_COOKIE,
    SESSION_LIFETIME,
    Principal,
    client_address,
    require_reader,
)
from xiaozhi_server.auth.roles import Permission, Role, permissions
from xiaozhi_server.privacy.masking import MaskKind
from xiaozhi_server.services import Services, get_services

router = APIRouter(prefix="/api/v2/auth", tags=["sign-in"])


def _storable(value: str) -> str:
    """No stored name holds NUL or a lone surrogate, and a database may refuse either."""
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL characters")
    if not value.isascii() and any("\ud800" <= c <= "\udfff" for c in value):
        raise PydanticCustomError("surrogate", "must be valid Unicode (no lone surrogates)")
    return value


class Credentials(BaseModel):
    """A user's name and password."""

    username: Annotated[str, AfterValidator(_storable)] = Field(
        min_length=1, max_length=64, pattern=r"^[^\u0000]*$"
    )
    password: str = Field(min_length=1, max_length=256)


class SignedIn(BaseModel):
    """A new console session."""

    username: str
    role: Role
    token: str = Field(description="also usable as a bearer token")
    expires_at: Timestamp


class SignedOut(BaseModel):
    """The session, if any, is over."""

    signed_out: Literal[True]


class Me(BaseModel):
    """Who is signed in."""

    username: str = Field(description="the user's name, or the token's name (api-token)")
    kind: Literal["user", "session", "token"] = Field(
        description="user: name and password; session: console session; token: API token"
    )
    role: Role = Field(description="viewer: read and search; admin: everything")
    permissions: list[Permission] = Field(description="what this role may do")
    masking: list[MaskKind] = Field(
        description="what the hub masks (privacy.mask); admins may ask with unmask=true"
    )


@router.post(
    "/login",
    response_model=SignedIn,
    responses=errors(400, 401, 429, challenge=False),
)
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
        credentials.username, credentials.password, client_address(request), via="login"
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
    return {
        "username": principal.name,
        "role": principal.role,
        "token": token,
        "expires_at": expires,
    }


@router.post(
    "/logout",
    response_model=SignedOut,
    dependencies=[Security(SESSION), Security(BEARER)],
    # Needs no credentials (the {} below): it ends whichever session the request carries.
    openapi_extra={"security": [{}]},
)
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


@router.get("/me", response_model=Me, dependencies=READER)
async def me(
    principal: Principal = Depends(require_reader), services: Services = Depends(get_services)
) -> dict[str, Any]:
    """Who is signed in, their role and what it allows, and what the hub masks."""
    return {
        "username": principal.name,
        "kind": principal.kind,
        "role": principal.role,
        "permissions": list(permissions(principal.role)),
        "masking": list(services.masker.kinds),
    }
