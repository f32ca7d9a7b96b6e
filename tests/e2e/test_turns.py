"""Whole turns in the console, in real Chromium: a reply's sentences in one bubble in report
order, tool calls folded inside, the voiceprint speaker's name, each reply's response time,
and response times on the statistics page; in Chinese and English."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import open_page, sign_in
from tests.e2e.screenshots import shoot
from tests.e2e.test_console import report
from tests.support.core_client import wav_bytes
from tests.support.live_app import LiveApp
from tests.support.seed import LIVING_ROOM

TOOL_CALL = json.dumps(
    [{"type": "tool", "text": 'search_story({"topic": "恐龙"})'}], ensure_ascii=False
)
TOOL_RESULT = json.dumps(
    [{"type": "tool_result", "text": '{"result": "霸王龙的故事"}'}], ensure_ascii=False
)
ZH = {
    "speaker": "小明",
    "asked": "给我讲个恐龙的故事",
    "sentences": [
        "好的，我们来讲恐龙。",
        "很久以前，地球上住着霸王龙。",
        "它是最大的肉食恐龙之一。",
    ],
    "thanks": "谢谢你",
    "welcome": "不客气！",
}
EN = {
    "speaker": "Tom",
    "asked": "Tell me a story about dinosaurs",
    "sentences": [
        "Sure, here is a dinosaur story.",
        "Long ago, T. rex walked the earth.",
        "It was one of the largest meat eaters.",
    ],
    "thanks": "Thank you",
    "welcome": "You're welcome!",
}


def a_told_story(console: LiveApp, words: dict[str, Any]) -> str:
    """A session as the core reports it: a voiceprint question, a tool call and its result,
    a reply of three sentences reported out of order, then one more exchange."""
    session_id = f"turns-{uuid.uuid4().hex[:8]}"
    t0 = int(time.time() * 1000) - 60_000
    question = json.dumps({"speaker": words["speaker"], "content": words["asked"]})
    first, second, third = words["sentences"]
    turns = [
        (1, question, 0),
        (3, TOOL_CALL, 400),
        (3, TOOL_RESULT, 401),
        (2, third, 3000),  # the thread pool reported the last sentence first
        (2, first, 1500),
        (2, second, 2200),
        (1, words["thanks"], 10_000),
        (2, words["welcome"], 12_500),
    ]
    for chat_type, content, at in turns:
        report(
            console,
            mac=LIVING_ROOM,
            session_id=session_id,
            chat_type=chat_type,
            content=content,
            report_time=t0 + at,
        )
    return session_id


def open_session(page: Page, session_id: str) -> None:
    page.goto(page.url.split("#")[0] + f"#/session/{session_id}")
    expect(page.locator(".bubble.agent.reply")).to_have_count(2)


def english_page(browser: Browser, console: LiveApp) -> Page:
    page = open_page(browser, console, locale="en-US")
    sign_in(page)
    return page


def test_a_replys_sentences_are_one_bubble_in_report_order(page: Page, console: LiveApp) -> None:
    open_session(page, a_told_story(console, ZH))
    reply = page.locator(".bubble.agent.reply").first
    expect(reply.locator(".sentence .text")).to_have_text(ZH["sentences"])


def test_tool_calls_and_results_are_folded_inside_the_reply(page: Page, console: LiveApp) -> None:
    open_session(page, a_told_story(console, ZH))
    reply = page.locator(".bubble.agent.reply").first
    call = reply.locator("details.tool-call")
    expect(call.locator("summary")).to_have_text("调用: search_story")
    expect(call.locator("pre")).to_be_hidden()
    call.locator("summary").click()
    expect(call.locator("pre")).to_contain_text("恐龙")
    expect(reply.locator("details.tool-result pre")).to_have_text("霸王龙的故事")
    expect(page.locator(".bubble.tool")).to_have_count(0)


def test_the_speakers_name_shows_with_the_plain_text(page: Page, console: LiveApp) -> None:
    open_session(page, a_told_story(console, ZH))
    asked = page.locator(".bubble.user").first
    expect(asked.locator(".who .speaker")).to_have_text("小明")
    expect(asked.locator(".text")).to_have_text(ZH["asked"])


def test_each_reply_shows_its_response_time(
    page: Page, console: LiveApp, screenshots: Path
) -> None:
    open_session(page, a_told_story(console, ZH))
    times = page.locator(".bubble.agent.reply .response-time")
    expect(times).to_have_text(["1.5 秒后回复", "2.5 秒后回复"])
    shoot(page, "session-turns", full_page=True)
    page.screenshot(path=str(screenshots / "session-turns-zh.png"), full_page=True)


def test_in_english_the_reply_speaker_and_response_time_read_in_english(
    browser: Browser, console: LiveApp
) -> None:
    page = english_page(browser, console)
    open_session(page, a_told_story(console, EN))
    expect(page.locator(".bubble.user .who").first).to_have_text("User · Tom")
    reply = page.locator(".bubble.agent.reply").first
    expect(reply.locator(".sentence .text")).to_have_text(EN["sentences"])
    expect(reply.locator("details.tool-call summary")).to_have_text("call: search_story")
    expect(reply.locator(".response-time")).to_have_text("replied in 1.5 s")
    shoot(page, "session-turns", full_page=True)
    page.context.close()


def test_a_sentence_arriving_late_joins_its_reply_in_order(page: Page, console: LiveApp) -> None:
    session_id = a_told_story(console, ZH)
    open_session(page, session_id)
    reply = page.locator(".bubble.agent.reply").first
    first_at = int(reply.locator(".who .response-time").get_attribute("data-ms") or "0")
    assert first_at == 1500
    sentences = reply.locator(".sentence .text")
    report(
        console,
        mac=LIVING_ROOM,
        session_id=session_id,
        chat_type=2,
        content="迟到的一句。",
        report_time=_report_time_of(page, 0) + 1800,
    )
    first, second, third = ZH["sentences"]
    expect(sentences).to_have_text([first, "迟到的一句。", second, third])
    expect(page.locator(".bubble.agent.reply")).to_have_count(2)


def test_a_recording_opened_in_a_reply_stays_while_the_reply_grows(
    page: Page, console: LiveApp
) -> None:
    session_id = f"turns-{uuid.uuid4().hex[:8]}"
    t0 = int(time.time() * 1000) - 60_000
    said = {"mac": LIVING_ROOM, "session_id": session_id}
    report(console, **said, chat_type=1, content="唱首歌", report_time=t0)
    report(console, **said, chat_type=2, content="好的。", report_time=t0 + 900, audio=wav_bytes())
    page.goto(page.url.split("#")[0] + f"#/session/{session_id}")
    page.click(".bubble.agent .sentence button.play")
    opened = page.locator(".bubble.agent .sentence audio")
    opened.evaluate("(audio) => audio.dataset.opened = 'yes'")
    report(console, **said, chat_type=2, content="小星星，亮晶晶。", report_time=t0 + 1600)
    expect(page.locator(".bubble.agent .sentence")).to_have_count(2)
    expect(page.locator(".bubble.agent audio[data-opened='yes']")).to_have_count(1)


def _report_time_of(page: Page, index: int) -> int:
    """The report time (epoch ms) of the session's ``index``th user turn, as drawn."""
    stamp = page.locator(".bubble.user time").nth(index).get_attribute("datetime") or ""
    return int(page.evaluate("(iso) => Date.parse(iso)", stamp))


def test_statistics_show_response_times_per_day_and_agent(page: Page, console: LiveApp) -> None:
    a_told_story(console, ZH)
    page.goto(page.url.split("#")[0] + "#/stats")
    table = page.locator("table.response-times")
    expect(table.locator("th").nth(3)).to_have_text("P50")
    unknown = table.locator("tbody tr", has_text="（未知智能体）")
    expect(unknown.locator("td.p50")).to_have_text(_seconds_pattern("秒"))


def test_statistics_show_response_times_in_english(browser: Browser, console: LiveApp) -> None:
    a_told_story(console, EN)
    page = english_page(browser, console)
    page.goto(page.url.split("#")[0] + "#/stats")
    table = page.locator("table.response-times")
    expect(table.locator("th").nth(3)).to_have_text("p50")
    unknown = table.locator("tbody tr", has_text="(unknown agent)")
    expect(unknown.locator("td.p95")).to_have_text(_seconds_pattern("s"))
    page.context.close()


def _seconds_pattern(unit: str) -> re.Pattern[str]:
    return re.compile(rf"^\d+\.\d {unit}$")


def test_grouping_orders_by_report_time_and_times_from_the_user_turn(page: Page) -> None:
    turns = page.evaluate(
        """async () => {
          const { groupTurns } = await import("/console/turns.js");
          const at = (s) => new Date(Date.UTC(2026, 10, 24, 8, 0, s)).toISOString();
          const messages = [
            { id: 5, chat_type: 2, created_at: at(9), content: "late" },
            { id: 1, chat_type: 3, created_at: at(0), content: "[]" },
            { id: 2, chat_type: 1, created_at: at(1), content: "hi", speaker: "Ann" },
            { id: 4, chat_type: 2, created_at: at(4), content: "first" },
            { id: 3, chat_type: 3, created_at: at(2), content: "[]" },
          ];
          return groupTurns(messages)
            .map((t) => [t.key, t.messages.map((m) => m.id), t.responseMs, t.speaker]);
        }"""
    )
    assert turns == [
        ["r-start", [1], None, None],
        ["u2", [2], None, "Ann"],
        ["r2", [3, 4, 5], 3000, None],
    ]
