"""Statistics, export, audio, sync status and the manager-api compatible reads."""

from __future__ import annotations

import csv
import io
import json

import httpx
import pytest

from tests.support.http import assert_bad_parameter
from tests.support.seed import AUDIO, LIVING_ROOM

RANGE = {"from": "2026-11-19T16:00:00Z", "to": "2026-11-21T16:00:00Z"}


def test_stats_per_day_count_in_the_requested_zone(api: httpx.Client) -> None:
    body = api.get(
        "/api/v2/stats", params={"group_by": "day", "tz": "Asia/Shanghai", **RANGE}
    ).json()
    days = {b["key"]: b for b in body["buckets"]}
    assert list(days) == ["2026-11-20", "2026-11-21"]
    assert {
        k: days["2026-11-20"][k] for k in ("messages", "sessions", "active_devices", "tool_calls")
    } == {"messages": 4, "sessions": 1, "active_devices": 1, "tool_calls": 2}
    assert (days["2026-11-21"]["messages"], days["2026-11-21"]["active_devices"]) == (4, 2)


def test_stats_per_device_and_agent(api: httpx.Client) -> None:
    devices = api.get("/api/v2/stats", params={"group_by": "device", **RANGE}).json()["buckets"]
    busiest = devices[0]
    assert (busiest["key"], busiest["messages"], busiest["sessions"]) == (LIVING_ROOM, 6, 2)
    agents = api.get("/api/v2/stats", params={"group_by": "agent", **RANGE}).json()["buckets"]
    assert {b["key"]: b["messages"] for b in agents} == {"agent-zh": 6, "agent-en": 2}


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"group_by": "week"}, "group_by"),
        ({"from": "2026-11-22T00:00:00Z", "to": "2026-11-21T00:00:00Z"}, "from"),
        ({"from": "2020-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from"),
    ],
)
def test_bad_stats_parameters_are_400s(
    api: httpx.Client, params: dict[str, str], parameter: str
) -> None:
    assert_bad_parameter(api.get("/api/v2/stats", params=params), parameter)


def test_export_jsonl_has_every_message_and_a_filename(api: httpx.Client) -> None:
    response = api.get("/api/v2/export", params={"format": "jsonl"})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert len(lines) == 8
    assert lines[1]["tool"]["name"] == "get_weather"
    assert 'filename="xiaozhi-chat-history-' in response.headers["content-disposition"]
    assert response.headers["content-type"].startswith("application/x-ndjson")


def test_export_csv_of_one_session(api: httpx.Client) -> None:
    response = api.get("/api/v2/export", params={"format": "csv", "session": "s-music"})
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["content"] for r in rows] == ["播放音乐", "好的，为你播放《晴天》。"]


def test_export_txt_reads_as_a_transcript_in_local_time(api: httpx.Client) -> None:
    text = api.get(
        "/api/v2/export", params={"format": "txt", "device": "dev-1", "tz": "Asia/Shanghai"}
    ).text
    assert "=== 会话 Session s-weather" in text
    assert "[2026-11-20 18:00:00] 用户 User: 小智，今天深圳天气怎么样？" in text
    assert "Hello" not in text


def test_export_rejects_an_unknown_format(api: httpx.Client) -> None:
    assert (
        api.get("/api/v2/export", params={"format": "xml"}).json()["error"]["parameter"] == "format"
    )


def test_audio_is_served_whole_as_wav(api: httpx.Client) -> None:
    response = api.get("/api/v2/audio/audio-1")
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/wav"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.content == AUDIO


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", (0, 99)),
        ("bytes=100-", (100, len(AUDIO) - 1)),
        ("bytes=-50", (len(AUDIO) - 50, len(AUDIO) - 1)),
    ],
)
def test_audio_range_requests_get_206_with_the_slice(
    api: httpx.Client, header: str, expected: tuple[int, int]
) -> None:
    response = api.get("/api/v2/audio/audio-1", headers={"Range": header})
    start, end = expected
    assert response.status_code == 206
    assert response.content == AUDIO[start : end + 1]
    assert response.headers["content-range"] == f"bytes {start}-{end}/{len(AUDIO)}"


@pytest.mark.parametrize("header", ["bytes=999999-", "bytes=5-2", "items=0-1"])
def test_unsatisfiable_ranges_get_416(api: httpx.Client, header: str) -> None:
    assert api.get("/api/v2/audio/audio-1", headers={"Range": header}).status_code == 416


def test_unknown_audio_is_404(api: httpx.Client) -> None:
    assert api.get("/api/v2/audio/nope").status_code == 404


def test_sync_status_lists_sources(api: httpx.Client) -> None:
    assert api.get("/api/v2/sync/status").json() == {"items": []}


def test_manager_api_session_page_in_its_envelope(api: httpx.Client) -> None:
    body = api.get("/xiaozhi/agent/agent-zh/sessions", params={"page": 1, "limit": 1}).json()
    assert (body["code"], body["msg"]) == (0, "success")
    assert body["data"]["total"] == 2
    assert body["data"]["list"] == [
        {
            "sessionId": "s-music",
            "createdAt": "2026-11-21 14:00:02",
            "chatCount": 2,
            "title": "播放音乐",
        }
    ]


def test_manager_api_chat_history_in_its_field_names(api: httpx.Client) -> None:
    body = api.get("/xiaozhi/agent/agent-zh/chat-history/s-weather").json()
    first = body["data"][0]
    assert first == {
        "createdAt": "2026-11-20 18:00:00",
        "chatType": 1,
        "content": "小智，今天深圳天气怎么样？",
        "audioId": None,
        "macAddress": LIVING_ROOM,
    }
    assert body["data"][3]["audioId"] == "audio-1"


def test_manager_api_reads_refuse_without_credentials_in_the_envelope(seeded: object) -> None:
    response = httpx.get(f"{seeded.base_url}/xiaozhi/agent/agent-zh/sessions")  # type: ignore[attr-defined]
    assert response.status_code == 401
    assert response.json()["code"] == 401
