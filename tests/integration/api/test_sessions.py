"""Sessions newest first with keyset pages, and one session's conversation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.support.http import assert_bad_parameter


def ids(body: dict[str, Any]) -> list[str]:
    return [s["session_id"] for s in body["items"]]


def test_sessions_come_newest_first_with_title_counts_and_times(api: httpx.Client) -> None:
    body = api.get("/api/v2/sessions").json()
    assert ids(body) == ["s-english", "s-music", "s-weather"]
    weather = body["items"][2]
    assert (weather["title"], weather["message_count"], weather["agent_id"]) == (
        "深圳天气",
        4,
        "agent-zh",
    )
    assert datetime.fromisoformat(weather["first_message_at"]) == datetime(
        2026, 11, 20, 10, tzinfo=UTC
    )


def test_keyset_pages_visit_every_session_once(api: httpx.Client) -> None:
    seen, cursor = [], None
    while True:
        body = api.get(
            "/api/v2/sessions", params={"limit": 1, **({"cursor": cursor} if cursor else {})}
        ).json()
        seen += ids(body)
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["s-english", "s-music", "s-weather"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"device": "AA:BB:CC:00:00:02"}, ["s-english"]),
        ({"agent": "agent-zh"}, ["s-music", "s-weather"]),
        ({"from": "2026-11-21T00:00:00Z"}, ["s-english", "s-music"]),
        ({"to": "2026-11-21T00:00:00Z"}, ["s-weather"]),
        ({"q": "天气"}, ["s-weather"]),
    ],
)
def test_sessions_can_be_filtered(
    api: httpx.Client, params: dict[str, str], expected: list[str]
) -> None:
    assert ids(api.get("/api/v2/sessions", params=params).json()) == expected


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": 1000}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"cursor": "garbage"}, "cursor"),
        ({"from": "yesterday"}, "from"),
        ({"tz": "Mars/Olympus"}, "tz"),
    ],
)
def test_bad_parameters_are_400s_naming_the_parameter(
    api: httpx.Client, params: dict[str, Any], parameter: str
) -> None:
    assert_bad_parameter(api.get("/api/v2/sessions", params=params), parameter)


def test_a_conversation_comes_in_order_with_tool_rows_decoded(api: httpx.Client) -> None:
    body = api.get("/api/v2/sessions/s-weather/messages").json()
    items = body["items"]
    assert [m["chat_type"] for m in items] == [1, 3, 3, 2]
    assert items[1]["tool"] == {
        "kind": "call",
        "name": "get_weather",
        "arguments": {"city": "深圳"},
    }
    assert items[2]["tool"] == {"kind": "result", "result": "晴，22°C"}
    assert items[1]["content"].startswith('[{"type": "tool"')
    assert items[3]["audio_id"] == "audio-1"
    assert "tool" not in items[0]


def test_an_unknown_session_is_a_404(api: httpx.Client) -> None:
    assert api.get("/api/v2/sessions/nope/messages").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/devices",
        "/api/v2/sessions",
        "/api/v2/sessions/s-weather/messages",
        "/api/v2/chat-history/dev-1",
        "/api/v2/messages/search?q=x",
        "/api/v2/stats",
        "/api/v2/export",
        "/api/v2/audio/audio-1",
        "/api/v2/sync/status",
    ],
)
def test_every_v2_endpoint_needs_admin_credentials(seeded: object, path: str) -> None:
    response = httpx.get(f"{seeded.base_url}{path}")  # type: ignore[attr-defined]
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
