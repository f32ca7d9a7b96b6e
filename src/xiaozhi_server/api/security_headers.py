"""Headers every HTTP answer carries, whatever route or error produced it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# nosniff: a browser must never run an export or an audio file it guesses to be a script.
_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"same-origin")]


class SecurityHeadersMiddleware:
    """Adds the headers above to every HTTP response (errors and streams included)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)
