"""A NUL character in a filter or a path finds nothing, on every store.

No stored text holds a NUL (ingest strips control characters), and PostgreSQL could not
store one: a lookup carrying one answers like any other lookup that matches nothing.
"""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    "params",
    [{"q": "深圳\x00"}, {"q": "深圳", "agent": "agent-zh\x00"}, {"q": "x", "device": "dev-1\x00"}],
)
def test_a_search_with_a_nul_finds_nothing(api: httpx.Client, params: dict[str, str]) -> None:
    response = api.get("/api/v2/messages/search", params=params)
    assert response.status_code in (200, 404), response.text
    assert response.status_code == 404 or response.json()["items"] == []


@pytest.mark.parametrize("params", [{"q": "深圳\x00"}, {"agent": "agent-zh\x00"}])
def test_a_session_list_filtered_with_a_nul_is_empty(
    api: httpx.Client, params: dict[str, str]
) -> None:
    response = api.get("/api/v2/sessions", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize("params", [{"q": "客厅\x00"}, {"agent": "agent-zh\x00"}])
def test_a_device_list_filtered_with_a_nul_is_empty(
    api: httpx.Client, params: dict[str, str]
) -> None:
    response = api.get("/api/v2/devices", params=params)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


@pytest.mark.parametrize(
    "path",
    [
        "/api/v2/sessions/s-weather%00/messages",
        "/api/v2/chat-history/dev-1%00",
        "/api/v2/audio/audio-1%00",
    ],
)
def test_a_path_naming_something_with_a_nul_is_not_found(api: httpx.Client, path: str) -> None:
    assert api.get(path).status_code == 404


def test_manager_api_lists_no_sessions_for_an_agent_named_with_a_nul(api: httpx.Client) -> None:
    response = api.get("/xiaozhi/agent/agent-zh%00/sessions")
    assert response.status_code == 200, response.text
    assert response.json()["data"]["total"] == 0


def test_manager_api_shows_no_turns_for_a_session_named_with_a_nul(api: httpx.Client) -> None:
    response = api.get("/xiaozhi/agent/agent-zh/chat-history/s-weather%00")
    assert response.status_code == 200, response.text
    assert response.json()["data"] == []
