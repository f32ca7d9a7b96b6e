"""Screenshots for docs/console.md, taken by the end-to-end tests that show each page.

``shoot(page, "live")`` writes ``docs/img/live.zh.png`` or ``docs/img/live.en.png``, after
the language the console shows (``<html lang>``), so a test run in both languages documents
both. The files are committed: run the e2e tests to refresh them.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"


def shoot(page: Page, name: str, *, full_page: bool = False) -> Path:
    """Save what ``page`` shows now as ``docs/img/<name>.<lang>.png``; return the path."""
    lang = page.evaluate("() => document.documentElement.lang") or "zh"
    path = IMAGES / f"{name}.{lang}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    # No caret or animation in the picture: the same page gives the same image.
    page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path
