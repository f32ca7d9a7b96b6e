"""A NUL character in a filter or an id is a 400 naming it, on every store.

No stored text holds a NUL (ingest strips control characters), and PostgreSQL could not
store one: a lookup carrying one never reaches the database as a 500.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.http import assert_bad_parameter


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/v2/messages/search", {"q": "深圳\x00"}, "q"),
        ("/api/v2/messages/search", {"q": "深圳", "agent": "agent-zh\x00"}, "agent"),
        ("/api/v2/messages/search", {"q": "x", "device": "dev-1\x00"}, "device"),
        ("/api/v2/sessions", {"q": "深圳\x00"}, "q"),
        ("/api/v2/sessions", {"agent": "agent-zh\x00"}, "agent"),
        ("/api/v2/devices", {"q": "客厅\x00"}, "q"),
        ("/api/v2/devices", {"agent": "agent-zh\x00"}, "agent"),
    ],
)
def test_a_filter_with_a_nul_is_a_400_naming_it(
    api: httpx.Client, path: str, params: dict[str, str], parameter: str
) -> None:
    assert_bad_parameter(api.get(path, params=params), parameter)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/sessions/s-weather%00/messages",
        "/api/v2/chat-history/dev-1%00",
        "/api/v2/audio/audio-1%00",
    ],
)
def test_a_path_naming_something_with_a_nul_is_a_400(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]["message"]


def test_manager_api_lists_no_sessions_for_an_agent_named_with_a_nul(api: httpx.Client) -> None:
    response = api.get("/xiaozhi/agent/agent-zh%00/sessions")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["total"] == 0


def test_manager_api_shows_no_turns_for_a_session_named_with_a_nul(api: httpx.Client) -> None:
    response = api.get("/xiaozhi/agent/agent-zh/chat-history/s-weather%00")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []
