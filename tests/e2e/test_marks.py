"""Stars, notes, tags and share links in the console, in real Chromium, in Chinese and
English; each page is photographed for docs/console.md (tests/e2e/screenshots.py)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import open_page, sign_in
from tests.e2e.screenshots import shoot
from tests.support.live_app import LiveApp

LOCALES = {"zh": "zh-CN", "en": "en-GB"}
TEXT = {
    "zh": {
        "starred": "★ 已加星标",
        "saved": "已保存",
        "none": "没有符合条件的会话",
        "revoke": "撤销",
        "no_shares": "没有分享链接",
    },
    "en": {
        "starred": "★ Starred",
        "saved": "Saved",
        "none": "No sessions match",
        "revoke": "Revoke",
        "no_shares": "No share links",
    },
}
SEEDED = ("s-weather", "s-music", "s-english")


def api(console: LiveApp) -> httpx.Client:
    return httpx.Client(
        base_url=console.base_url, headers={"Authorization": "Bearer t"}, timeout=30
    )


@pytest.fixture
def clean(console: LiveApp) -> Iterator[httpx.Client]:
    """An API client, after every mark of the seed's sessions and every share went."""
    with api(console) as http:
        for session_id in SEEDED:
            http.patch(
                f"/api/v2/sessions/{session_id}/marks",
                json={"starred": False, "note": None, "tags": []},
            ).raise_for_status()
            for mark in http.get(f"/api/v2/sessions/{session_id}/marks").json()["messages"]:
                http.patch(
                    f"/api/v2/messages/{mark['message_id']}/marks", json={"note": None, "tags": []}
                ).raise_for_status()
        for share in http.get("/api/v2/shares").json()["items"]:
            http.delete(f"/api/v2/shares/{share['id']}").raise_for_status()
        yield http


@pytest.fixture(params=sorted(LOCALES))
def language(request: pytest.FixtureRequest) -> str:
    lang: str = request.param
    return lang


@pytest.fixture
def signed_in(browser: Browser, console: LiveApp, language: str) -> Iterator[Page]:
    page = open_page(browser, console, locale=LOCALES[language])
    sign_in(page)
    yield page
    page.context.close()


def go(page: Page, route: str) -> None:
    page.goto(page.url.split("#")[0] + "#/" + route)


def test_starring_tagging_and_noting_a_session_stays_after_a_reload(
    signed_in: Page, clean: httpx.Client, language: str
) -> None:
    go(signed_in, "session/s-weather")
    signed_in.click("section.marks button.star")
    expect(signed_in.locator("section.marks button.star")).to_have_text(TEXT[language]["starred"])
    signed_in.fill("section.marks input.tags", "投诉, weather")
    signed_in.fill("section.marks textarea.note", "家长说回答太慢")
    signed_in.click("section.marks button[type=submit]")
    expect(signed_in.locator(".marks-status")).to_have_text(TEXT[language]["saved"])
    signed_in.reload()
    expect(signed_in.locator("section.marks button.star")).to_have_attribute("aria-pressed", "true")
    expect(signed_in.locator("section.marks input.tags")).to_have_value("weather, 投诉")
    expect(signed_in.locator("section.marks textarea.note")).to_have_value("家长说回答太慢")
    shoot(signed_in, "session-marks", full_page=True)


def test_a_note_and_tags_on_a_message_show_under_its_bubble(
    signed_in: Page, clean: httpx.Client
) -> None:
    go(signed_in, "session/s-music")
    reply = signed_in.locator("li.bubble", has_text="好的，为你播放《晴天》。")
    reply.locator("button.edit-note").click()
    reply.locator("textarea.note").fill("歌名正确")
    reply.locator("input.tags").fill("good")
    reply.locator("button[type=submit]").click()
    expect(reply.locator(".message-note")).to_have_text("歌名正确")
    expect(reply.locator(".tag")).to_have_text(["good"])
    signed_in.reload()
    reloaded = signed_in.locator("li.bubble", has_text="好的，为你播放《晴天》。")
    expect(reloaded.locator(".message-note")).to_have_text("歌名正确")


def test_the_bookmarks_page_lists_starred_sessions_and_filters_by_tag(
    signed_in: Page, clean: httpx.Client, language: str
) -> None:
    clean.patch("/api/v2/sessions/s-music/marks", json={"starred": True, "tags": ["music"]})
    clean.patch("/api/v2/sessions/s-english/marks", json={"tags": ["english"], "note": "练习口语"})
    go(signed_in, "marks")
    expect(signed_in.locator("table.marked tbody tr")).to_have_count(1)
    expect(signed_in.locator("tr[data-session='s-music'] .star-badge")).to_be_visible()
    signed_in.select_option("select[name=starred]", "")
    signed_in.fill("input[name=tag]", "english")
    signed_in.click("form.mark-filters button[type=submit]")
    expect(signed_in.locator("table.marked tbody tr")).to_have_count(1)
    expect(signed_in.locator("tr[data-session='s-english'] .note-cell")).to_have_text("练习口语")
    shoot(signed_in, "bookmarks", full_page=True)
    signed_in.fill("input[name=tag]", "nobody")
    signed_in.click("form.mark-filters button[type=submit]")
    expect(signed_in.locator("p.empty")).to_have_text(TEXT[language]["none"])


def test_search_results_filter_by_star(signed_in: Page, clean: httpx.Client) -> None:
    clean.patch("/api/v2/sessions/s-music/marks", json={"starred": True})
    go(signed_in, "search/q=晴")
    expect(signed_in.locator("ol.results li")).to_have_count(3)
    signed_in.select_option("form.search select[name=starred]", "true")
    signed_in.click("form.search button[type=submit]")
    expect(signed_in.locator("ol.results li")).to_have_count(1)
    expect(signed_in.locator("ol.results li a")).to_have_attribute("href", "#/session/s-music")


def test_the_device_page_shows_stars_and_tags_beside_titles(
    signed_in: Page, clean: httpx.Client
) -> None:
    clean.patch("/api/v2/sessions/s-weather/marks", json={"starred": True, "tags": ["天气"]})
    go(signed_in, "device/aa:bb:cc:00:00:01")
    row = signed_in.locator("tr", has_text="深圳天气")
    expect(row.locator(".star-badge")).to_be_visible()
    expect(row.locator(".tag")).to_have_text(["天气"])


def test_a_share_link_opens_the_session_without_signing_in_and_the_shares_page_revokes_it(
    browser: Browser, signed_in: Page, clean: httpx.Client, console: LiveApp, language: str
) -> None:
    go(signed_in, "session/s-weather")
    signed_in.click("button.share")
    link = signed_in.locator("input.share-url")
    expect(link).to_be_visible()
    url = link.input_value()
    assert url.startswith(console.base_url + "/share/")

    stranger = browser.new_context(locale=LOCALES[language]).new_page()
    answer = stranger.goto(url)
    assert answer is not None
    assert "noindex" in answer.headers["x-robots-tag"]
    expect(stranger.locator("h1")).to_have_text("深圳天气")
    expect(stranger.locator("li.user .text")).to_have_text("小智，今天深圳天气怎么样？")
    expect(stranger.locator("meta[name=robots]")).to_have_attribute("content", "noindex, nofollow")
    expect(stranger.locator("audio")).to_have_count(1)
    expect(stranger.locator("nav, form, script")).to_have_count(0)
    shoot(stranger, "share-page", full_page=True)

    go(signed_in, "shares")
    expect(signed_in.locator("table.shares tbody tr")).to_have_count(1)
    shoot(signed_in, "shares", full_page=True)
    signed_in.get_by_role("button", name=TEXT[language]["revoke"]).click()
    expect(signed_in.locator("p.empty")).to_have_text(TEXT[language]["no_shares"])
    gone = stranger.goto(url)
    assert gone is not None
    assert gone.status == 404
    stranger.context.close()
