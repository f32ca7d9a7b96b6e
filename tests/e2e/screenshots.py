"""Screenshots for docs/console.md, taken by the end-to-end tests that show each page.

``shoot(page, "live")`` writes ``live.zh.png`` or ``live.en.png``, after the language the
console shows (``<html lang>``), so a test run in both languages documents both. The pictures
in docs/img are committed and refreshed by ``make screenshots``; an ordinary test run writes
them to a temporary folder instead, so running the suite leaves the working tree as it was.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from playwright.sync_api import Page

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
# Set (to anything) by `make screenshots`.
IMAGES = (
    DOCS_IMAGES
    if os.environ.get("XIAOZHI_DOCS_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "xiaozhi-screenshots"
)


def shoot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save what ``page`` shows now as ``<name>.<lang>.png``; return the path."""
    lang = (page.evaluate("() => document.documentElement.lang") or "zh").split("-")[0]
    path = IMAGES / f"{name}.{lang}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    # No caret or animation in the picture: the same page gives the same image.
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path
