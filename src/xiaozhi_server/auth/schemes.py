"""The ways in, as the OpenAPI document names them: a bearer token, HTTP Basic, the cookie.

They check nothing themselves (guard.py does); a guard lists them so that every route it
protects documents them, each with the role the route needs (OpenAPI 3.1 lets a security
requirement of any scheme list role names).
"""

from __future__ import annotations

from fastapi.openapi.models import APIKey, APIKeyIn, HTTPBase, HTTPBearer, SecurityBase
from fastapi.security.base import SecurityBase as SecurityDependency

SESSION_COOKIE = "xiaozhi_session"


class Described(SecurityDependency):
    """A way in that the guards accept, named in the document; it checks nothing."""

    def __init__(self, model: SecurityBase, scheme_name: str) -> None:
        self.model = model
        self.scheme_name = scheme_name

    async def __call__(self) -> None:
        return None


BEARER = Described(
    HTTPBearer(description="an API token (auth.api_tokens) or a console session token"),
    "bearer",
)
BASIC = Described(HTTPBase(scheme="basic", description="a user's name and password"), "basic")
SESSION = Described(
    APIKey(
        **{"in": APIKeyIn.cookie},
        name=SESSION_COOKIE,
        description="the console's session, set by POST /api/v2/auth/login",
    ),
    "sessionCookie",
)
