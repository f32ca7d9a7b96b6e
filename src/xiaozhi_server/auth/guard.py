"""Access for every route and the WebSocket: who is asking, and may their role do this.

Accepted credentials: an API token (``Authorization: Bearer <token>``, or ``?token=`` on
a WebSocket), a console session, or a user's name and password (HTTP Basic). Comparisons
are constant-time. Each principal has a role (auth/roles.py): ``require_reader`` lets any
role in, ``require_admin`` only admins; anyone else gets 403.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from fastapi import HTTPException, Security, WebSocketException, status
from pydantic import SecretStr
from starlette.requests import HTTPConnection

from xiaozhi_server.auth.passwords import hash_password, verify_password
from xiaozhi_server.auth.roles import Permission, Role, at_least, permissions
from xiaozhi_server.auth.schemes import BASIC, BEARER, SESSION, SESSION_COOKIE
from xiaozhi_server.auth.throttle import SignInThrottle, ThrottlePolicy
from xiaozhi_server.auth.users import name_problem
from xiaozhi_server.config import ApiToken, AuthSettings, token_secret
from xiaozhi_server.store import admin_sessions, admins
from xiaozhi_server.store.audit import AuditEntry, record
from xiaozhi_server.store.database import Store

__all__ = ["SESSION_COOKIE", "Authenticator", "Principal", "require_admin", "require_reader"]

SESSION_LIFETIME = timedelta(hours=12)
# scrypt is slow on purpose; a verified password is trusted again for this long.
_PASSWORD_CACHE_SECONDS = 60.0
WS_POLICY_VIOLATION = 1008
WS_TOO_MANY_FAILURES = 4429
WS_FORBIDDEN = 4403


class SignInThrottled(Exception):
    """Too many wrong passwords for this name or from this address: wait ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request (a user, a console session, a program's token) and their role."""

    name: str
    kind: str
    role: Role

    def may(self, permission: Permission) -> bool:
        """True if this principal's role has ``permission``."""
        return permission in permissions(self.role)


def _token_principal(item: SecretStr | ApiToken) -> Principal:
    if isinstance(item, ApiToken):
        return Principal(item.name or "api-token", "token", item.role)
    return Principal("api-token", "token", "admin")  # a plain string: admin, as before roles


class Authenticator:
    """Checks credentials against the settings' tokens and the stored users."""

    def __init__(self, settings: AuthSettings, store: Store) -> None:
        self._tokens = [
            (_digest(token_secret(item)), _token_principal(item)) for item in settings.api_tokens
        ]
        self._store = store
        # (name, password digest) → (trusted until, the stored hash it was checked against)
        self._verified: dict[tuple[str, bytes], tuple[float, str]] = {}
        self._throttle = SignInThrottle(
            ThrottlePolicy(free_failures=settings.failed_sign_ins_per_user),
            ThrottlePolicy(free_failures=settings.failed_sign_ins_per_address),
        )
        # One hash at a time, in a worker thread: scrypt releases the GIL, so the event loop
        # keeps serving on the other core while a password is checked.
        self._hashing = asyncio.Semaphore(1)
        self._unknown_user_hash: str | None = None

    def check_token(self, token: str) -> Principal | None:
        """The principal for an API token, or None if no configured token matches."""
        candidate = _digest(token)
        found = None
        for expected, principal in self._tokens:  # every one compared: no early exit
            if hmac.compare_digest(candidate, expected):
                found = principal
        return found

    async def check_password(
        self, username: str, password: str, address: str, via: str = "password"
    ) -> Principal | None:
        """The principal for a user's name and password, or None.

        Raises SignInThrottled, before any hashing, while the name or ``address`` is locked.
        Every password checked is recorded in the audit trail (``sign_in`` or
        ``sign_in_failed``, with ``address`` and ``via``); one trusted again from the cache
        is not checked again, and is not recorded again.
        """
        cache_key = (username, _digest(password))
        remembered = self._verified.get(cache_key)
        if remembered is not None and remembered[0] > time.monotonic():
            # Still the user's password, still the user's role: both are read again.
            found = await admins.credentials(self._store, username)
            if found is not None and found[0] == remembered[1]:
                return Principal(username, "user", found[1])
        retry_after = self._throttle.retry_after(username, address)
        if retry_after is not None:
            raise SignInThrottled(retry_after)
        found = await self._verify(username, password)
        await self._record_sign_in(username, address, via, found is not None)
        if found is None:
            self._throttle.failed(username, address)
            return None
        self._throttle.succeeded(username)
        self._remember(cache_key, found[0])
        return Principal(username, "user", found[1])

    async def _record_sign_in(self, username: str, address: str, via: str, ok: bool) -> None:
        action = "sign_in" if ok else "sign_in_failed"
        entry = AuditEntry(username, "user", action, address=address, detail={"via": via})
        await record(self._store, entry)

    async def _verify(self, username: str, password: str) -> tuple[str, Role] | None:
        """The stored hash and role if ``password`` is the user's, else None."""
        found = await admins.credentials(self._store, username)
        async with self._hashing:
            if found is None:
                # Hash anyway, so that a wrong name takes as long as a wrong password.
                if self._unknown_user_hash is None:
                    self._unknown_user_hash = await asyncio.to_thread(
                        hash_password, secrets.token_urlsafe(16)
                    )
                await asyncio.to_thread(verify_password, password, self._unknown_user_hash)
                return None
            matched = await asyncio.to_thread(verify_password, password, found[0])
            return found if matched else None

    def _remember(self, cache_key: tuple[str, bytes], stored: str) -> None:
        now = time.monotonic()
        self._verified = {key: kept for key, kept in self._verified.items() if kept[0] > now}
        self._verified[cache_key] = (now + _PASSWORD_CACHE_SECONDS, stored)

    async def start_session(self, username: str) -> tuple[str, datetime]:
        """A new console session token for ``username`` and when it expires."""
        token = secrets.token_urlsafe(32)
        expires = datetime.now(UTC) + SESSION_LIFETIME
        await admin_sessions.create_session(self._store, _digest(token).hex(), username, expires)
        return token, expires

    async def end_session(self, token: str) -> None:
        """Sign a console session out."""
        await admin_sessions.end_session(self._store, _digest(token).hex())

    async def check_bearer(self, token: str) -> Principal | None:
        """An API token, or a console session token."""
        principal = self.check_token(token)
        if principal is not None:
            return principal
        found = await admin_sessions.session_user(self._store, _digest(token).hex())
        return Principal(found[0], "session", found[1]) if found else None

    async def authenticate(self, connection: HTTPConnection) -> Principal | None:
        """The principal behind a request or WebSocket handshake, or None."""
        scheme, _, credentials = connection.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and credentials:
            return await self.check_bearer(credentials.strip())
        cookie = connection.cookies.get(SESSION_COOKIE)
        if cookie:
            return await self.check_bearer(cookie)
        if scheme.lower() == "basic" and credentials:
            username, password = _basic(credentials)
            if not username:
                return None
            return await self.check_password(
                username, password, client_address(connection), via="basic"
            )
        query_token = connection.query_params.get("token")
        if connection.scope["type"] == "websocket" and query_token:
            return await self.check_bearer(query_token)
        return None


async def authenticated(connection: HTTPConnection) -> Principal:
    """The caller's principal, or 401 (HTTP) / close 1008 (WebSocket).

    Checked once per request, however many guards a route has.
    """
    known: Principal | None = getattr(connection.state, "principal", None)
    if known is not None:
        return known
    authenticator: Authenticator = connection.app.state.services.authenticator
    try:
        principal = await authenticator.authenticate(connection)
    except SignInThrottled as exc:
        if connection.scope["type"] == "websocket":
            raise WebSocketException(WS_TOO_MANY_FAILURES, str(exc)) from None
        raise
    if principal is not None:
        connection.state.principal = principal
        return principal
    if connection.scope["type"] == "websocket":
        raise WebSocketException(WS_POLICY_VIOLATION, "authentication required: pass ?token=")
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "authentication required: send 'Authorization: Bearer <api token>' "
        "or a user's name and password (HTTP Basic)",
        headers={"WWW-Authenticate": 'Bearer, Basic realm="xiaozhi-server"'},
    )


def forbidden(principal: Principal, needed: Role = "admin", what: str = "this") -> HTTPException:
    """403: ``principal`` is known, but ``what`` needs the role ``needed``."""
    return HTTPException(
        status.HTTP_403_FORBIDDEN,
        f"forbidden: {what} needs the {needed} role; {principal.name!r} is a {principal.role}",
    )


Guard = Callable[..., Awaitable[Principal]]


@cache
def require_role(role: Role) -> Guard:
    """A FastAPI dependency: the caller's principal if their role is ``role`` or above.

    Else 401 without credentials, 403 with them. One dependency per role (cached), so a
    route that names it twice checks once; it documents the three ways in, with the role.
    """
    scopes = [] if role == "viewer" else [role]

    async def guard(
        connection: HTTPConnection,
        _bearer: None = Security(BEARER, scopes=scopes),
        _basic: None = Security(BASIC, scopes=scopes),
        _session: None = Security(SESSION, scopes=scopes),
    ) -> Principal:
        principal = await authenticated(connection)
        if not at_least(principal.role, role):
            if connection.scope["type"] == "websocket":
                raise WebSocketException(WS_FORBIDDEN, f"forbidden: needs the {role} role")
            raise forbidden(principal, role)
        return principal

    guard.__name__ = f"require_{role}"
    return guard


# Reads and search: any role. Everything else that touches personal data: admins.
require_reader = require_role("viewer")
require_admin = require_role("admin")


def client_address(connection: HTTPConnection) -> str:
    """The client's address as uvicorn reports it (behind a trusted proxy: the forwarded one)."""
    return connection.client.host if connection.client else "unknown"


def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def _basic(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    username, _, password = decoded.partition(":")
    if name_problem(username) is not None:
        return "", ""  # no such user can exist; not worth a query (NUL breaks PostgreSQL)
    return username, password
