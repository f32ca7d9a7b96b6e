"""Erasing history from the console, in real Chromium: the question names what will go and
how much, Cancel keeps everything, Erase removes it and says what went."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import open_page, sign_in
from tests.e2e.screenshots import shoot
from tests.e2e.test_console import report
from tests.support.core_client import wav_bytes
from tests.support.live_app import LiveApp
from tests.support.seed import LIVING_ROOM


def stored_session(console: LiveApp, session_id: str) -> int:
    response = httpx.get(
        f"{console.base_url}/api/v2/sessions/{session_id}/messages",
        headers={"Authorization": "Bearer t"},
    )
    return response.status_code


def a_session(console: LiveApp, mac: str, turns: int = 2, audio: bool = False) -> str:
    """A conversation reported by ``mac`` (the core's way), with audio on its last turn."""
    session_id = f"e2e-{uuid.uuid4().hex[:8]}"
    for n in range(turns):
        with_audio = wav_bytes(800) if audio and n == turns - 1 else None
        report(console, mac=mac, session_id=session_id, content=f"第{n}句", audio=with_audio)
    return session_id


def test_erasing_a_device_names_it_and_its_counts_then_removes_it(
    page: Page, screenshots: Path
) -> None:
    page.goto(page.url.split("#")[0] + f"#/device/{LIVING_ROOM}")
    page.click("button.erase")
    dialog = page.locator("dialog.erasure")
    expect(dialog.locator("#erasure-question")).to_have_text(
        f"删除设备 客厅小智（{LIVING_ROOM}）的 2 个会话、6 条消息和 1 段录音？"
    )
    page.screenshot(path=str(screenshots / "erasure-question.png"))
    shoot(page, "erasure")
    dialog.locator("button.confirm").click()
    expect(dialog.locator("#erasure-question")).to_have_text(
        f"已删除设备 客厅小智（{LIVING_ROOM}）的 2 个会话、6 条消息和 1 段录音。"
    )
    dialog.locator("button.done").click()
    expect(page.locator("table.devices")).to_be_visible()
    expect(page.locator(f"tr[data-mac='{LIVING_ROOM}']")).to_have_count(0)


def test_cancel_closes_the_question_and_keeps_the_session(page: Page, console: LiveApp) -> None:
    session_id = a_session(console, "aa:bb:cc:00:00:31")
    page.goto(page.url.split("#")[0] + f"#/session/{session_id}")
    expect(page.locator(".bubble")).to_have_count(2)
    page.click("button.erase")
    page.locator("dialog.erasure button.cancel").click()
    expect(page.locator("dialog.erasure")).to_have_count(0)
    expect(page.locator(".bubble")).to_have_count(2)
    assert stored_session(console, session_id) == 200


def test_erasing_a_session_in_english_counts_its_audio_and_returns_to_its_device(
    browser: Browser, console: LiveApp
) -> None:
    device = "aa:bb:cc:00:00:32"
    session_id = a_session(console, device, turns=3, audio=True)
    page = open_page(browser, console, locale="en-GB")
    try:
        sign_in(page)
        page.goto(page.url.split("#")[0] + f"#/session/{session_id}")
        page.click("button.erase")
        expect(page.locator("#erasure-question")).to_have_text(
            f"Erase 1 session, 3 messages and 1 audio clip of session {session_id}?"
        )
        page.locator("dialog.erasure button.confirm").click()
        page.locator("dialog.erasure button.done").click()
        expect(page.locator("h1")).to_have_text(device)
        expect(page.locator(f"a[href='#/session/{session_id}']")).to_have_count(0)
        assert stored_session(console, session_id) == 404
    finally:
        page.context.close()
