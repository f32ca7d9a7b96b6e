"""Admin access for every admin route and the WebSocket: one dependency, one check.

Accepted credentials: an API token (``Authorization: Bearer <token>``, or ``?token=`` on
a WebSocket) or an admin's name and password (HTTP Basic). Comparisons are constant-time.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fastapi import HTTPException, WebSocketException, status
from starlette.requests import HTTPConnection

from xiaozhi_server.auth.passwords import hash_password, verify_password
from xiaozhi_server.auth.throttle import SignInThrottle, ThrottlePolicy
from xiaozhi_server.config import AuthSettings
from xiaozhi_server.store import admin_sessions, admins
from xiaozhi_server.store.database import Store

SESSION_COOKIE = "xiaozhi_session"
SESSION_LIFETIME = timedelta(hours=12)
# scrypt is slow on purpose; a verified password is trusted again for this long.
_PASSWORD_CACHE_SECONDS = 60.0
WS_POLICY_VIOLATION = 1008
WS_TOO_MANY_FAILURES = 4429
_MAX_USERNAME = 64


class SignInThrottled(Exception):
    """Too many wrong passwords for this name or from this address: wait ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a request: an admin user or a program holding an API token."""

    name: str
    kind: str


class Authenticator:
    """Checks admin credentials against the settings' tokens and the stored admins."""

    def __init__(self, settings: AuthSettings, store: Store) -> None:
        self._token_digests = [_digest(t.get_secret_value()) for t in settings.api_tokens]
        self._store = store
        self._verified: dict[tuple[str, bytes], float] = {}
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
        matched = False
        for expected in self._token_digests:
            matched |= hmac.compare_digest(candidate, expected)
        return Principal("api-token", "token") if matched else None

    async def check_password(self, username: str, password: str, address: str) -> Principal | None:
        """The principal for an admin's name and password, or None.

        Raises SignInThrottled, before any hashing, while the name or ``address`` is locked.
        """
        cache_key = (username, _digest(password))
        if self._verified.get(cache_key, 0.0) > time.monotonic():
            return Principal(username, "user")
        retry_after = self._throttle.retry_after(username, address)
        if retry_after is not None:
            raise SignInThrottled(retry_after)
        if not await self._verify(username, password):
            self._throttle.failed(username, address)
            return None
        self._throttle.succeeded(username)
        self._remember(cache_key)
        return Principal(username, "user")

    async def _verify(self, username: str, password: str) -> bool:
        stored = await admins.password_hash(self._store, username)
        async with self._hashing:
            if stored is None:
                # Hash anyway, so that a wrong name takes as long as a wrong password.
                if self._unknown_user_hash is None:
                    self._unknown_user_hash = await asyncio.to_thread(
                        hash_password, secrets.token_urlsafe(16)
                    )
                await asyncio.to_thread(verify_password, password, self._unknown_user_hash)
                return False
            return await asyncio.to_thread(verify_password, password, stored)

    def _remember(self, cache_key: tuple[str, bytes]) -> None:
        now = time.monotonic()
        self._verified = {key: until for key, until in self._verified.items() if until > now}
        self._verified[cache_key] = now + _PASSWORD_CACHE_SECONDS

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
        username = await admin_sessions.session_user(self._store, _digest(token).hex())
        return Principal(username, "session") if username else None

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
            return await self.check_password(username, password, client_address(connection))
        query_token = connection.query_params.get("token")
        if connection.scope["type"] == "websocket" and query_token:
            return await self.check_bearer(query_token)
        return None


async def require_admin(connection: HTTPConnection) -> Principal:
    """FastAPI dependency: the caller's principal, or 401 (HTTP) / close 1008 (WebSocket)."""
    authenticator: Authenticator = connection.app.state.services.authenticator
    try:
        principal = await authenticator.authenticate(connection)
    except SignInThrottled as exc:
        if connection.scope["type"] == "websocket":
            raise WebSocketException(WS_TOO_MANY_FAILURES, str(exc)) from None
        raise
    if principal is not None:
        return principal
    if connection.scope["type"] == "websocket":
        raise WebSocketException(WS_POLICY_VIOLATION, "authentication required: pass ?token=")
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "authentication required: send 'Authorization: Bearer <api token>' "
        "or an admin's name and password (HTTP Basic)",
        headers={"WWW-Authenticate": 'Bearer, Basic realm="xiaozhi-server"'},
    )


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
    if len(username) > _MAX_USERNAME or not username.isprintable():
        return "", ""  # no such admin can exist; not worth a query (NUL breaks PostgreSQL)
    return username, password
