"""Search across every device and agent, Chinese included."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.http import assert_bad_parameter
from tests.support.seed import TOOL_CALL, TOOL_RESULT


def contents(body: dict[str, Any]) -> list[str]:
    return [m["content"] for m in body["items"]]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("天气", ["小智，今天深圳天气怎么样？"]),
        ("深圳", ["今天深圳晴，22度。", TOOL_CALL, "小智，今天深圳天气怎么样？"]),
        ("晴", ["好的，为你播放《晴天》。", "今天深圳晴，22度。", TOOL_RESULT]),
        ("HELLO", ["Hello! Of course I can help.", "Hello, can you help me?"]),
        ("can help", ["Hello! Of course I can help."]),
        ("不存在的词", []),
    ],
)
def test_search_finds_every_message_containing_the_text_newest_first(
    api: httpx.Client, q: str, expected: list[str]
) -> None:
    assert contents(api.get("/api/v2/messages/search", params={"q": q}).json()) == expected


def test_search_filters_by_device_agent_type_and_time(api: httpx.Client) -> None:
    search = "/api/v2/messages/search"
    assert contents(api.get(search, params={"q": "深圳", "chat_type": 1}).json()) == [
        "小智，今天深圳天气怎么样？"
    ]
    assert contents(api.get(search, params={"q": "hello", "device": "dev-1"}).json()) == []
    assert len(contents(api.get(search, params={"q": "hello", "agent": "agent-en"}).json())) == 2
    before_music = {"q": "晴", "to": "2026-11-21T00:00:00Z"}
    assert contents(api.get(search, params=before_music).json()) == [
        "今天深圳晴，22度。",
        TOOL_RESULT,
    ]


def test_hits_carry_a_snippet_with_highlight_ranges(api: httpx.Client) -> None:
    [hit] = api.get("/api/v2/messages/search", params={"q": "天气"}).json()["items"]
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end] == "天气"
    assert hit["session_id"] == "s-weather"


def test_search_pages_with_before_id(api: httpx.Client) -> None:
    first = api.get("/api/v2/messages/search", params={"q": "深圳", "limit": 1}).json()
    rest = api.get(
        "/api/v2/messages/search",
        params={"q": "深圳", "limit": 1, "before_id": first["next_before_id"]},
    ).json()
    assert contents(first) + contents(rest) == ["今天深圳晴，22度。", TOOL_CALL]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [({"q": "  "}, "q"), ({}, "q"), ({"q": "x", "chat_type": 5}, "chat_type")],
)
def test_bad_search_parameters_are_400s(
    api: httpx.Client, params: dict[str, Any], parameter: str
) -> None:
    assert_bad_parameter(api.get("/api/v2/messages/search", params=params), parameter)


def test_like_wildcards_in_the_query_are_literal(api: httpx.Client) -> None:
    assert contents(api.get("/api/v2/messages/search", params={"q": "%"}).json()) == []
