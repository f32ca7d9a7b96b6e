"""The console as an operator uses it, in real Chromium."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Connection, delete

from tests.e2e.conftest import open_page, sign_in
from tests.support.core_client import encoded, report_body, report_headers
from tests.support.live_app import LiveApp
from tests.support.seed import LIVING_ROOM
from xiaozhi_server.domain import Checkpoint
from xiaozhi_server.sources.sync import SERVICE
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.sync_state import write_checkpoint
from xiaozhi_server.store.tables import sync_status


async def set_sync_status(url: str, cursor: dict[str, Any] | None) -> None:
    """Store the upstream source's sync_status row with ``cursor`` (None removes it)."""
    store = Store(url)

    def write(connection: Connection) -> None:
        connection.execute(delete(sync_status))
        if cursor is not None:
            write_checkpoint(connection, Checkpoint(SERVICE, cursor), datetime.now(UTC))

    await store.run_write(write)
    await store.close()


def report(console: LiveApp, **fields: Any) -> None:
    response = httpx.post(
        f"{console.base_url}/xiaozhi/agent/chat-history/report",
        content=encoded(report_body(**fields)),
        headers=report_headers(),
    )
    assert response.json()["code"] == 0


def test_without_signing_in_only_the_sign_in_form_shows(browser: Browser, console: LiveApp) -> None:
    page = open_page(browser, console)
    expect(page.locator("form.login")).to_be_visible()
    expect(page.locator("table.devices")).to_have_count(0)
    page.context.close()


def test_a_wrong_password_is_refused(browser: Browser, console: LiveApp) -> None:
    page = open_page(browser, console)
    page.fill("#username", "admin")
    page.fill("#password", "nope")
    page.click("form.login button[type=submit]")
    expect(page.locator("form.login .error")).to_have_text("用户名或密码错误")
    page.context.close()


def test_devices_show_alias_mac_and_state_in_chinese(page: Page) -> None:
    row = page.locator(f"tr[data-mac='{LIVING_ROOM}']")
    expect(row).to_contain_text("客厅小智")
    expect(row).to_contain_text(LIVING_ROOM)
    expect(page.locator("#connection")).to_have_text("实时")


def test_a_conversation_shows_user_agent_and_tool_turns_distinctly(
    page: Page, screenshots: Path
) -> None:
    page.goto(page.url.split("#")[0] + "#/session/s-weather")
    expect(page.locator(".bubble.user").first).to_contain_text("小智，今天深圳天气怎么样？")
    expect(page.locator(".bubble.agent .tool-call")).to_contain_text("get_weather")
    expect(page.locator(".bubble.agent .tool-result")).to_contain_text("晴，22°C")
    expect(page.locator(".bubble.agent button.play")).to_be_visible()
    page.screenshot(path=str(screenshots / "conversation.png"), full_page=True)


def test_a_new_turn_appears_live_once_without_reload(page: Page, console: LiveApp) -> None:
    page.goto(page.url.split("#")[0] + "#/session/s-music")
    expect(page.locator(".bubble")).to_have_count(2)
    report(console, mac=LIVING_ROOM, session_id="s-music", content="再放一首 live")
    expect(page.locator(".bubble", has_text="再放一首 live")).to_have_count(1)


def test_after_a_dropped_connection_the_page_resumes_missing_nothing_and_doubling_nothing(
    page: Page, console: LiveApp
) -> None:
    page.goto(page.url.split("#")[0] + "#/session/s-english")
    expect(page.locator(".bubble")).to_have_count(2)
    page.evaluate("() => window.xiaozhi.feed.socket.close()")
    expect(page.locator("#connection")).to_have_text("重新连接中…")
    report(console, mac="aa:bb:cc:00:00:02", session_id="s-english", content="sent while offline")
    expect(page.locator("#connection")).to_have_text("实时")
    expect(page.locator(".bubble", has_text="sent while offline")).to_have_count(1)
    report(console, mac="aa:bb:cc:00:00:02", session_id="s-english", content="after reconnect")
    expect(page.locator(".bubble", has_text="after reconnect")).to_have_count(1)
    expect(page.locator(".bubble", has_text="sent while offline")).to_have_count(1)


def test_chat_content_is_shown_as_text_never_as_html(page: Page, console: LiveApp) -> None:
    hostile = "<img src=x onerror=\"document.title='pwned'\"><b>bold</b>"
    report(console, mac=LIVING_ROOM, session_id="xss", content=hostile)
    page.goto(page.url.split("#")[0] + "#/session/xss")
    expect(page.locator(".bubble .text")).to_have_text(hostile)
    expect(page.locator(".conversation img")).to_have_count(0)
    assert page.title() != "pwned"


def test_search_finds_chinese_and_jumps_into_the_session(page: Page) -> None:
    page.goto(page.url.split("#")[0] + "#/search")
    page.fill("input[name=q]", "天气")
    page.click("form.search button[type=submit]")
    hit = page.locator(".results a").first
    expect(hit.locator("mark")).to_have_text("天气")
    hit.click()
    expect(page.locator("h1")).to_have_text("深圳天气")


def test_statistics_are_drawn_as_svg_charts(page: Page) -> None:
    page.goto(page.url.split("#")[0] + "#/stats")
    expect(page.locator("svg.chart")).to_have_count(4)


def test_sync_health_says_when_no_sync_is_configured(page: Page) -> None:
    page.goto(page.url.split("#")[0] + "#/sync")
    expect(page.locator("table")).to_contain_text("未配置同步")


def test_sync_health_shows_binlog_mode_and_its_position(page: Page, console: LiveApp) -> None:
    cursor = {"mode": "binlog", "binlog": {"file": "binlog.000003", "offset": 4567}}
    with ThreadPoolExecutor(1) as worker:  # Playwright's loop owns this thread
        worker.submit(asyncio.run, set_sync_status(console.settings.storage.url, cursor)).result()
    try:
        page.goto(page.url.split("#")[0] + "#/sync")
        expect(page.locator("td.mode")).to_have_text("binlog · binlog.000003:4567")
    finally:
        with ThreadPoolExecutor(1) as worker:
            worker.submit(asyncio.run, set_sync_status(console.settings.storage.url, None)).result()


def test_the_language_switch_is_remembered(page: Page) -> None:
    page.click("#lang")
    expect(page.locator("nav a").first).to_have_text("Devices")
    page.reload()
    expect(page.locator("nav a").first).to_have_text("Devices")
    page.click("#lang")
    expect(page.locator("nav a").first).to_have_text("设备")


def test_english_is_the_default_for_an_english_browser(browser: Browser, console: LiveApp) -> None:
    page = open_page(browser, console, locale="en-US")
    expect(page.locator("form.login h1")).to_have_text("Sign in")
    page.context.close()


def test_export_links_download_the_session(page: Page) -> None:
    page.goto(page.url.split("#")[0] + "#/session/s-weather")
    with page.expect_download() as download:
        page.click(".export a:text('TXT')")
    assert download.value.suggested_filename.endswith(".txt")


def test_a_phone_width_screen_needs_no_sideways_scrolling(
    browser: Browser, console: LiveApp
) -> None:
    page = open_page(browser, console, viewport={"width": 375, "height": 740})
    sign_in(page)
    page.goto(page.url.split("#")[0] + "#/session/s-weather")
    expect(page.locator(".bubble").first).to_be_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 376
    page.context.close()


def test_everything_is_reachable_by_keyboard(page: Page) -> None:
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.tagName")
    assert focused in ("A", "BUTTON", "INPUT", "MAIN")
    page.locator("nav a[href='#/search']").focus()
    page.keyboard.press("Enter")
    expect(page.locator("form.search")).to_be_visible()


def test_a_reader_scrolled_up_stays_put_and_sees_a_new_messages_marker(
    page: Page, console: LiveApp
) -> None:
    for n in range(25):
        report(console, mac=LIVING_ROOM, session_id="long", content=f"第{n}句 a long conversation")
    page.goto(page.url.split("#")[0] + "#/session/long")
    expect(page.locator(".bubble")).to_have_count(25)
    page.evaluate("() => window.scrollTo(0, 0)")
    report(console, mac=LIVING_ROOM, session_id="long", content="arrived while reading above")
    expect(page.locator(".bubble", has_text="arrived while reading above")).to_have_count(1)
    expect(page.locator(".new-marker")).to_be_visible()
    assert page.evaluate("() => window.scrollY") == 0
    page.click(".new-marker")
    expect(page.locator(".new-marker")).to_be_hidden()
