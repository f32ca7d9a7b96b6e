"""The live wall (#/live), in real Chromium, in Chinese and English: every conversation as
it happens, one card per device, filtered by agent, device and chat type, pausable."""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.screenshots import shoot
from tests.e2e.test_console import report
from tests.support.live_app import LiveApp
from tests.support.seed import KIDS_ROOM, LIVING_ROOM

TEXT = {
    "zh": {
        "title": "实时对话墙",
        "agent": "小智助手",
        "resume": "继续（2 条新消息）",
        "tutor": "English Tutor",
    },
    "en": {
        "title": "Live wall",
        "agent": "小智助手",
        "resume": "Resume (2 new)",
        "tutor": "English Tutor",
    },
}


def text(page: Page, key: str) -> str:
    lang: str = page.lang  # type: ignore[attr-defined]
    return TEXT[lang][key]


def unique(said: str) -> str:
    """Words no other test says (each test sees the turns earlier ones replayed)."""
    return f"{said} {uuid.uuid4().hex[:6]}"


def open_wall(page: Page, filters: str = "") -> None:
    page.goto(page.url.split("#")[0] + "#/live/" + filters)
    expect(page.locator("h1")).to_have_text(text(page, "title"))


def card(page: Page, mac: str) -> Any:
    return page.locator(f".device-card[data-mac='{mac}']")


def test_the_wall_opens_with_recent_turns_one_card_per_device_by_alias_and_agent_name(
    lang_page: Page,
) -> None:
    open_wall(lang_page)
    living = card(lang_page, LIVING_ROOM)
    expect(living.locator(".device-name")).to_have_text("客厅小智")
    expect(living.locator(".agent-name")).to_have_text("小智助手")
    expect(card(lang_page, KIDS_ROOM).locator(".device-name")).to_have_text("Kids Room")
    expect(card(lang_page, KIDS_ROOM).locator(".agent-name")).to_have_text(text(lang_page, "tutor"))
    expect(living.locator(".turn")).to_have_count(6)  # its last six of eight turns


def test_a_new_turn_streams_in_and_its_device_moves_to_the_top(
    lang_page: Page, console: LiveApp
) -> None:
    report(console, mac=KIDS_ROOM, session_id="wall-first", content="the kids' room spoke last")
    open_wall(lang_page)
    expect(lang_page.locator(".device-card").first).to_have_attribute("data-mac", KIDS_ROOM)
    said = unique("客厅的新一句")
    report(console, mac=LIVING_ROOM, session_id="wall-live", content=said)
    turn = card(lang_page, LIVING_ROOM).locator(".turn", has_text=said)
    expect(turn).to_have_count(1)
    expect(lang_page.locator(".device-card").first).to_have_attribute("data-mac", LIVING_ROOM)
    shoot(lang_page, "live")


def test_a_turn_links_into_its_session(lang_page: Page) -> None:
    open_wall(lang_page)
    card(lang_page, KIDS_ROOM).locator(".turn a.text", has_text="Hello, can you help me?").click()
    expect(lang_page.locator("h1")).to_have_text("English practice")


def test_filtering_by_agent_shows_only_its_devices_turns_even_reported_without_an_agent(
    lang_page: Page, console: LiveApp
) -> None:
    open_wall(lang_page)
    lang_page.select_option("select[name=agent]", label=text(lang_page, "tutor"))
    expect(lang_page).to_have_url(re.compile(r"#/live/agent=agent-en$"))
    expect(card(lang_page, KIDS_ROOM)).to_be_visible()
    expect(card(lang_page, LIVING_ROOM)).to_have_count(0)
    # The core's reports carry no agent: the device's agent decides.
    other, mine = unique("not for the tutor"), unique("for the tutor")
    report(console, mac=LIVING_ROOM, session_id="wall-agent", content=other)
    report(console, mac=KIDS_ROOM, session_id="wall-agent-en", content=mine)
    expect(card(lang_page, KIDS_ROOM).locator(".turn", has_text=mine)).to_have_count(1)
    expect(lang_page.locator(".turn", has_text=other)).to_have_count(0)
    expect(card(lang_page, LIVING_ROOM)).to_have_count(0)


def test_a_chat_type_filter_is_applied_by_the_server(lang_page: Page, console: LiveApp) -> None:
    open_wall(lang_page, "chat_type=1")
    lang_page.evaluate(
        "() => { window.arrived = [];"
        " window.xiaozhi.wall.on('chat_update', (m) => window.arrived.push(m.content)); }"
    )
    answer, question = unique("an agent's answer"), unique("a user's question")
    report(console, mac=KIDS_ROOM, session_id="wall-types", chat_type=2, content=answer)
    report(console, mac=KIDS_ROOM, session_id="wall-types", chat_type=1, content=question)
    expect(lang_page.locator(".turn", has_text=question)).to_have_count(1)
    # Both went out on one connection, in order: the answer would have come first.
    assert answer not in lang_page.evaluate("() => window.arrived")
    assert lang_page.locator(".turn.agent").count() == 0


def test_filtering_by_device_keeps_only_that_device_and_is_in_the_address(
    lang_page: Page, console: LiveApp
) -> None:
    open_wall(lang_page)
    card(lang_page, KIDS_ROOM).locator("button.only").click()
    expect(lang_page.locator(".device-card")).to_have_count(1)
    expect(lang_page.locator("input[name=device]")).to_have_value(KIDS_ROOM)
    assert lang_page.url.endswith("#/live/device=" + KIDS_ROOM.replace(":", "%3A"))
    other, this = unique("other room"), unique("this room")
    report(console, mac=LIVING_ROOM, session_id="wall-device", content=other)
    report(console, mac=KIDS_ROOM, session_id="wall-device", content=this)
    expect(lang_page.locator(".turn", has_text=this)).to_have_count(1)
    expect(lang_page.locator(".turn", has_text=other)).to_have_count(0)


def test_paused_the_wall_holds_new_turns_counts_them_and_shows_them_on_resume(
    lang_page: Page, console: LiveApp
) -> None:
    open_wall(lang_page)
    expect(card(lang_page, KIDS_ROOM)).to_be_visible()
    lang_page.click(".wall-bar button.pause")
    expect(lang_page.locator(".wall-bar button.pause")).to_have_attribute("aria-pressed", "true")
    said = unique("while paused")
    report(console, mac=KIDS_ROOM, session_id="wall-pause", content=said + " one")
    report(console, mac=KIDS_ROOM, session_id="wall-pause", content=said + " two")
    pause = lang_page.locator(".wall-bar button.pause")
    expect(pause).to_have_text(text(lang_page, "resume"))
    expect(lang_page.locator(".turn", has_text=said)).to_have_count(0)
    pause.click()
    expect(lang_page.locator(".turn", has_text=said)).to_have_count(2)
    expect(pause).to_have_attribute("aria-pressed", "false")
