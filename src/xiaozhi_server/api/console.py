"""The web console: static files under /console, its page at /."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"
# Only this origin's scripts, styles, sockets and media: injected markup could not run.
CSP = (
    "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)

router = APIRouter(include_in_schema=False)


@router.get("/")
async def console_page() -> FileResponse:
    """The console's single page."""
    return FileResponse(
        CONSOLE_DIR / "index.html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


def static_files() -> StaticFiles:
    """The console's scripts and styles."""
    return StaticFiles(directory=CONSOLE_DIR)
