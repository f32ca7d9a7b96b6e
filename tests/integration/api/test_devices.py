"""Devices and the unified chat history of one device."""

from __future__ import annotations

import httpx
import pytest

from tests.support.http import assert_bad_parameter
from tests.support.seed import KIDS_ROOM, LIVING_ROOM


def test_devices_list_every_device_with_its_counts_and_state(api: httpx.Client) -> None:
    body = api.get("/api/v2/devices", params={"sort": "messages"}).json()
    assert body["total"] == 2
    first, second = body["items"]
    assert (first["mac"], first["alias"], first["message_count"], first["session_count"]) == (
        LIVING_ROOM,
        "客厅小智",
        6,
        2,
    )
    assert (first["board"], first["firmware"], first["agent_id"], first["device_id"]) == (
        "bread-compact-wifi",
        "1.7.6",
        "agent-zh",
        "dev-1",
    )
    assert first["state"] == "offline"
    assert second["mac"] == KIDS_ROOM


def test_devices_can_be_filtered_by_alias_and_agent(api: httpx.Client) -> None:
    assert [d["mac"] for d in api.get("/api/v2/devices", params={"q": "kids"}).json()["items"]] == [
        KIDS_ROOM
    ]
    by_agent = api.get("/api/v2/devices", params={"agent": "agent-zh"}).json()["items"]
    assert [d["mac"] for d in by_agent] == [LIVING_ROOM]


def test_an_unknown_sort_is_a_400_naming_the_parameter(api: httpx.Client) -> None:
    assert_bad_parameter(api.get("/api/v2/devices", params={"sort": "colour"}), "sort")


@pytest.mark.parametrize("device_id", ["AA-BB-CC-00-00-01", "aabbcc000001", LIVING_ROOM, "dev-1"])
def test_chat_history_accepts_any_mac_spelling_or_the_upstream_id(
    api: httpx.Client, device_id: str
) -> None:
    body = api.get(f"/api/v2/chat-history/{device_id}").json()
    assert body["device_id"] == LIVING_ROOM
    assert [s["session_id"] for s in body["real_time_sessions"]] == ["s-music", "s-weather"]


def test_chat_history_carries_messages_statistics_and_freshness(api: httpx.Client) -> None:
    body = api.get("/api/v2/chat-history/dev-1", params={"tz": "Asia/Shanghai"}).json()
    weather = body["real_time_sessions"][1]
    assert weather["title"] == "深圳天气"
    assert [m["chat_type"] for m in weather["messages"]] == [1, 3, 3, 2]
    assert weather["first_message_at_local"].startswith("2026-11-20T18:00:00")
    stats = body["statistics"]
    assert stats["by_type"] == {"user": 2, "agent": 2, "tool": 2}
    assert (stats["messages"], stats["sessions"], stats["tool_calls"]) == (6, 2, 2)
    assert stats["average_messages_per_session"] == 3
    assert stats["first_activity_at"].startswith("2026-11-20T10:00:00")
    assert "sync" in body["freshness"]
    assert body["last_updated"]


def test_chat_history_pages_sessions_with_a_cursor(api: httpx.Client) -> None:
    first = api.get("/api/v2/chat-history/dev-1", params={"limit": 1}).json()
    second = api.get(
        "/api/v2/chat-history/dev-1", params={"limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert [s["session_id"] for s in first["real_time_sessions"]] == ["s-music"]
    assert [s["session_id"] for s in second["real_time_sessions"]] == ["s-weather"]
    assert second["next_cursor"] is None


def test_an_unknown_device_is_a_404_in_the_error_shape(api: httpx.Client) -> None:
    response = api.get("/api/v2/chat-history/ff:ff:ff:ff:ff:ff")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_devices_carry_their_agents_name(api: httpx.Client) -> None:
    items = api.get("/api/v2/devices", params={"sort": "mac"}).json()["items"]
    assert [(d["mac"], d["agent_name"]) for d in items] == [
        (LIVING_ROOM, "小智助手"),
        (KIDS_ROOM, "English Tutor"),
    ]


def test_devices_are_found_by_their_agents_name(api: httpx.Client) -> None:
    found = api.get("/api/v2/devices", params={"q": "tutor"}).json()
    assert [d["mac"] for d in found["items"]] == [KIDS_ROOM]
    assert found["total"] == 1


def test_devices_sort_by_agent_name_either_way(api: httpx.Client) -> None:
    def order(direction: str) -> list[str]:
        params = {"sort": "agent", "order": direction}
        return [d["mac"] for d in api.get("/api/v2/devices", params=params).json()["items"]]

    assert order("asc") == [KIDS_ROOM, LIVING_ROOM]  # English Tutor before 小智助手
    assert order("desc") == [LIVING_ROOM, KIDS_ROOM]


def test_devices_page_with_limit_and_offset_and_count_every_match(api: httpx.Client) -> None:
    pages = [
        api.get("/api/v2/devices", params={"sort": "mac", "limit": 1, "offset": n}).json()
        for n in (0, 1, 2)
    ]
    assert [[d["mac"] for d in p["items"]] for p in pages] == [[LIVING_ROOM], [KIDS_ROOM], []]
    assert [p["total"] for p in pages] == [2, 2, 2]


def test_devices_can_be_asked_for_by_mac_in_any_spelling(api: httpx.Client) -> None:
    params = {"mac": ["AA-BB-CC-00-00-02", "ff:ff:ff:ff:ff:ff"]}
    assert [d["mac"] for d in api.get("/api/v2/devices", params=params).json()["items"]] == [
        KIDS_ROOM
    ]


def test_more_than_a_hundred_macs_is_a_400(api: httpx.Client) -> None:
    params = {"mac": [f"aa:bb:cc:00:01:{n:02x}" for n in range(101)]}
    assert_bad_parameter(api.get("/api/v2/devices", params=params), "mac")


def test_the_state_filter_counts_every_page_not_just_the_first(api: httpx.Client) -> None:
    # The seed's devices were last seen in 2026-11: offline, both of them, on any page.
    offline = api.get("/api/v2/devices", params={"state": "offline", "limit": 1}).json()
    assert (len(offline["items"]), offline["total"]) == (1, 2)
    online = api.get("/api/v2/devices", params={"state": "online"}).json()
    assert (online["items"], online["total"]) == ([], 0)


def test_agents_are_listed_by_name(api: httpx.Client) -> None:
    body = api.get("/api/v2/agents").json()
    assert [(a["agent_id"], a["name"]) for a in body["items"]] == [
        ("agent-en", "English Tutor"),
        ("agent-zh", "小智助手"),
    ]
    assert body["total"] == 2
