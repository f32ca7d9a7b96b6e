"""The web console: static files under /console, its page at /."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
# Only this origin's scripts, styles, sockets and media: injected markup could not run.
_CSP = (
    "default-src 'self'; connect-src {connect}; media-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
# A Host header that could be anything but a host name would write into the policy.
_HOST = re.compile(r"^(?:[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")

router = APIRouter(include_in_schema=False)


@router.get("/")
async def console_page(request: Request) -> FileResponse:
    """The console's single page."""
    return FileResponse(
        CONSOLE_DIR / "index.html",
        headers={
            "Content-Security-Policy": content_security_policy(request.headers.get("host")),
            "Cache-Control": "no-cache",
        },
    )


def content_security_policy(host: str | None) -> str:
    """The console's policy: sockets only to the host the page came from."""
    connect = "'self'"
    if host and _HOST.match(host):
        connect += f" ws://{host} wss://{host}"
    return _CSP.format(connect=connect)


def static_files() -> StaticFiles:
    """The console's scripts and styles."""
    return StaticFiles(directory=CONSOLE_DIR)
