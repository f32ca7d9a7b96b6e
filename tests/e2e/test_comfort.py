"""Comfort and first-look fixes in real Chromium, in Chinese and English: dark mode after
the system, j/k and / on the keyboard, "jump to now", focus without a frame, no stray
"null" on the sync health page."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.screenshots import shoot
from tests.e2e.test_console import report
from tests.support.live_app import LiveApp
from tests.support.seed import LIVING_ROOM

TEXT = {
    "zh": {"jump": "跳到最新 ↓", "sync": "同步状态"},
    "en": {"jump": "Jump to now ↓", "sync": "Sync health"},
}


def words(page: Page, key: str) -> str:
    return TEXT[page.lang][key]  # type: ignore[attr-defined]


def go(page: Page, route: str) -> None:
    page.goto(page.url.split("#")[0] + route)


def background(page: Page) -> str:
    return str(page.evaluate("() => getComputedStyle(document.body).backgroundColor"))


def test_the_console_is_dark_when_the_system_is(lang_page: Page) -> None:
    lang_page.emulate_media(color_scheme="dark")
    expect(lang_page.locator("table.devices")).to_be_visible()
    assert background(lang_page) == "rgb(13, 17, 23)"
    go(lang_page, "#/session/s-weather")
    expect(lang_page.locator(".bubble").first).to_be_visible()
    shoot(lang_page, "session-dark")


def test_the_console_is_light_when_the_system_is(lang_page: Page) -> None:
    lang_page.emulate_media(color_scheme="light")
    assert background(lang_page) == "rgb(255, 255, 255)"


def test_after_navigation_focus_is_on_main_without_a_frame(lang_page: Page) -> None:
    lang_page.click("nav a[href='#/sync']")
    expect(lang_page.locator("h1")).to_have_text(words(lang_page, "sync"))
    assert lang_page.evaluate("() => document.activeElement.id") == "main"
    outline = lang_page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "none"


def test_a_control_reached_by_keyboard_still_shows_its_focus_ring(lang_page: Page) -> None:
    lang_page.keyboard.press("Tab")
    focused = lang_page.evaluate("() => document.activeElement.tagName")
    outline = lang_page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert (focused, outline) in {("A", "solid"), ("INPUT", "solid")}


def test_the_sync_health_page_prints_no_stray_null(lang_page: Page) -> None:
    go(lang_page, "#/sync")
    expect(lang_page.locator("main table")).to_be_visible()
    expect(lang_page.locator("main")).not_to_contain_text("null")
    shoot(lang_page, "sync")


def test_j_and_k_move_between_sessions_and_enter_opens_one(lang_page: Page) -> None:
    go(lang_page, f"#/device/{LIVING_ROOM}")
    sessions = lang_page.locator("main a[href^='#/session/']")
    expect(sessions).to_have_count(2)
    lang_page.keyboard.press("j")
    expect(sessions.nth(0)).to_be_focused()
    lang_page.keyboard.press("j")
    expect(sessions.nth(1)).to_be_focused()
    lang_page.keyboard.press("k")
    expect(sessions.nth(0)).to_be_focused()
    lang_page.keyboard.press("Enter")
    expect(lang_page.locator("h1")).to_have_text("播放音乐")


def test_slash_goes_to_the_pages_search_box(lang_page: Page) -> None:
    lang_page.keyboard.press("/")
    expect(lang_page.locator(".device-search input[name=q]")).to_be_focused()
    expect(lang_page.locator(".device-search input[name=q]")).to_have_value("")


def test_slash_on_a_page_without_search_opens_the_search_page(lang_page: Page) -> None:
    go(lang_page, "#/stats")
    expect(lang_page.locator("svg.chart").first).to_be_visible()
    lang_page.keyboard.press("/")
    expect(lang_page.locator("form.search input[name=q]")).to_be_focused()


def test_keys_typed_into_a_field_are_text_not_shortcuts(lang_page: Page) -> None:
    go(lang_page, "#/search")
    box = lang_page.locator("form.search input[name=q]")
    box.click()
    lang_page.keyboard.type("j/k")
    expect(box).to_have_value("j/k")
    expect(box).to_be_focused()


def test_a_long_conversation_offers_jump_to_now_which_goes_to_the_newest_turn(
    lang_page: Page, console: LiveApp
) -> None:
    session = f"long-{lang_page.lang}"  # type: ignore[attr-defined]
    for n in range(40):
        report(console, mac=LIVING_ROOM, session_id=session, content=f"第{n}句 turn {n}")
    go(lang_page, f"#/session/{session}")
    expect(lang_page.locator(".bubble")).to_have_count(40)
    jump = lang_page.get_by_role("button", name=words(lang_page, "jump"))
    expect(jump).to_be_visible()
    jump.click()
    expect(jump).to_be_hidden()
    expect(lang_page.locator(".bubble").last).to_be_in_viewport()


def test_a_short_conversation_has_no_jump_button(lang_page: Page) -> None:
    go(lang_page, "#/session/s-music")
    expect(lang_page.locator(".bubble")).to_have_count(2)
    expect(lang_page.locator("button.jump-now")).to_be_hidden()
