"""Out-of-bounds and hostile parameters: a 400 naming the parameter, or an ordinary answer.

Never a 500: huge integers, texts longer than anything stored, NUL characters, lone
surrogates, times at the edges of the calendar and cursors this API never wrote.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.support.http import assert_bad_parameter

HUGE = 2**63  # one past the largest BIGINT
LONG = "x" * 5000


def cursor(*parts: Any) -> str:
    """A cursor in the API's encoding, whatever it holds."""
    return base64.urlsafe_b64encode(json.dumps(parts).encode()).decode().rstrip("=")


def test_an_offset_past_any_integer_the_database_holds_is_a_400(api: httpx.Client) -> None:
    assert_bad_parameter(api.get("/api/v2/devices", params={"offset": HUGE}), "offset")


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/v2/devices", {"offset": -1}, "offset"),
        ("/api/v2/devices", {"offset": 1_000_000_001}, "offset"),
        ("/api/v2/devices", {"limit": 0}, "limit"),
        ("/api/v2/devices", {"limit": 101}, "limit"),
        ("/api/v2/sessions", {"limit": HUGE}, "limit"),
        ("/api/v2/chat-history/dev-1", {"limit": -HUGE}, "limit"),
        ("/api/v2/messages/search", {"q": "x", "limit": HUGE * HUGE}, "limit"),
        ("/api/v2/messages/search", {"q": "x", "before_id": HUGE}, "before_id"),
        ("/api/v2/messages/search", {"q": "x", "before_id": 0}, "before_id"),
        ("/api/v2/messages/search", {"q": "x", "chat_type": HUGE}, "chat_type"),
    ],
)
def test_integers_outside_their_bounds_are_400s_naming_them(
    api: httpx.Client, path: str, params: dict[str, Any], parameter: str
) -> None:
    assert_bad_parameter(api.get(path, params=params), parameter)


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/v2/devices", {"q": LONG}, "q"),
        ("/api/v2/devices", {"agent": LONG}, "agent"),
        ("/api/v2/sessions", {"device": LONG}, "device"),
        ("/api/v2/sessions", {"q": LONG}, "q"),
        ("/api/v2/sessions", {"cursor": LONG}, "cursor"),
        ("/api/v2/messages/search", {"q": LONG}, "q"),
        ("/api/v2/export", {"session": LONG}, "session"),
        (f"/api/v2/chat-history/{LONG}", {}, "device_id"),
        (f"/api/v2/sessions/{LONG}/messages", {}, "session_id"),
        (f"/api/v2/audio/{LONG}", {}, "audio_id"),
    ],
)
def test_texts_longer_than_anything_stored_are_400s(
    api: httpx.Client, path: str, params: dict[str, Any], parameter: str
) -> None:
    assert_bad_parameter(api.get(path, params=params), parameter)


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("/api/v2/devices", {"q": "a\x00b"}, "q"),
        ("/api/v2/sessions", {"agent": "a\x00b"}, "agent"),
        ("/api/v2/sessions", {"device": "\x00"}, "device"),
        ("/api/v2/sessions", {"cursor": "\x00"}, "cursor"),
        ("/api/v2/messages/search", {"q": "天气\x00"}, "q"),
        ("/api/v2/export", {"session": "s-weather\x00"}, "session"),
        ("/api/v2/chat-history/dev-1%00", {}, "device_id"),
        ("/api/v2/sessions/s-weather%00/messages", {}, "session_id"),
        ("/api/v2/audio/audio-1%00", {}, "audio_id"),
    ],
)
def test_nul_characters_are_400s(
    api: httpx.Client, path: str, params: dict[str, Any], parameter: str
) -> None:
    assert_bad_parameter(api.get(path, params=params), parameter)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/api/v2/devices?q=%ED%A0%80", 200),
        ("/api/v2/messages/search?q=%ED%A0%80", 200),
        ("/api/v2/sessions?q=%ED%A0%80&agent=%ED%A0%80", 200),
        ("/api/v2/sessions?device=%ED%A0%80", 404),
        ("/api/v2/chat-history/%ED%A0%80", 404),
        ("/api/v2/sessions/%ED%A0%80/messages", 404),
        ("/api/v2/audio/%ED%A0%80", 404),
    ],
)
def test_a_lone_surrogate_in_the_url_is_an_ordinary_answer(
    api: httpx.Client, path: str, status: int
) -> None:
    assert api.get(path).status_code == status


def test_a_lone_surrogate_in_a_sign_in_name_is_a_400(api: httpx.Client) -> None:
    body = '{"username": "\\ud800", "password": "pw"}'
    response = api.post(
        "/api/v2/auth/login", content=body, headers={"Content-Type": "application/json"}
    )
    assert_bad_parameter(response, "username")


def test_a_nul_in_a_sign_in_name_is_a_400(api: httpx.Client) -> None:
    response = api.post("/api/v2/auth/login", json={"username": "ad\x00min", "password": "pw"})
    assert_bad_parameter(response, "username")


@pytest.mark.parametrize("blank", [" ", "\u3000", "\t\x1c\u2028"])
def test_a_search_for_nothing_but_spaces_is_a_400(api: httpx.Client, blank: str) -> None:
    assert_bad_parameter(api.get("/api/v2/messages/search", params={"q": blank}), "q")


@pytest.mark.parametrize(
    "moment",
    [
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "0001-01-01",
        "9999-12-31",
        "9999999999999",
        "2026-11-20t10:00:00.123456789z",
    ],
)
@pytest.mark.parametrize("path", ["/api/v2/sessions", "/api/v2/export"])
def test_times_at_the_edges_of_the_calendar_are_answered(
    api: httpx.Client, path: str, moment: str
) -> None:
    for bound in ("from", "to"):
        assert api.get(path, params={bound: moment}).status_code == 200


@pytest.mark.parametrize("moment", ["2026-W47-1", "2026-11-20T10", "1e9", "٣", "12345678901234"])
def test_times_in_forms_the_document_does_not_list_are_400s(api: httpx.Client, moment: str) -> None:
    assert_bad_parameter(api.get("/api/v2/sessions", params={"from": moment}), "from")


def test_stats_over_millennia_is_a_400(api: httpx.Client) -> None:
    params = {"from": "0001-01-01", "to": "9999-12-31"}
    assert_bad_parameter(api.get("/api/v2/stats", params=params), "from")


def test_stats_per_day_too_close_to_year_one_is_a_400(api: httpx.Client) -> None:
    params = {"from": "0001-01-01", "to": "0001-01-03", "tz": "America/New_York"}
    assert_bad_parameter(api.get("/api/v2/stats", params=params), "from")


def test_stats_per_device_over_all_time_is_answered(api: httpx.Client) -> None:
    params = {"group_by": "device", "from": "0001-01-01", "to": "9999-12-31T23:59:59-05:00"}
    buckets = api.get("/api/v2/stats", params=params).json()["buckets"]
    assert sum(b["messages"] for b in buckets) == 8


@pytest.mark.parametrize(
    "parts",
    [
        ("2026-11-20T10:00:00", "s-weather"),  # no offset
        ("0001-01-01T00:00:00+05:00", "s-weather"),  # before year 1 in UTC
        ("2026-11-20T10:00:00+00:00", 7),
        ("2026-11-20T10:00:00+00:00", "s\x00"),
        (None, "s-weather"),
        ("2026-11-20T10:00:00+00:00",),
    ],
)
@pytest.mark.parametrize("path", ["/api/v2/sessions", "/api/v2/chat-history/dev-1"])
def test_cursors_the_api_did_not_write_are_400s(
    api: httpx.Client, path: str, parts: tuple[Any, ...]
) -> None:
    assert_bad_parameter(api.get(path, params={"cursor": cursor(*parts)}), "cursor")


@pytest.mark.parametrize("tz", ["", "Mars/Olympus", "asia/shanghai", "../../etc/passwd"])
def test_unknown_time_zones_are_400s(api: httpx.Client, tz: str) -> None:
    assert_bad_parameter(api.get("/api/v2/sessions", params={"tz": tz}), "tz")


def test_like_wildcards_in_filters_are_literal(api: httpx.Client) -> None:
    assert api.get("/api/v2/devices", params={"q": "%"}).json()["items"] == []
    assert api.get("/api/v2/sessions", params={"q": "_"}).json()["items"] == []


def test_malformed_json_to_sign_in_is_a_400_naming_the_body(api: httpx.Client) -> None:
    response = api.post(
        "/api/v2/auth/login", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_bad_parameter(response, "body")


@pytest.mark.parametrize("page", [0, 10_000_001, HUGE])
def test_manager_api_session_pages_out_of_bounds_are_400s_in_its_envelope(
    api: httpx.Client, page: int
) -> None:
    response = api.get("/xiaozhi/agent/agent-zh/sessions", params={"page": page})
    assert (response.status_code, response.json()["code"]) == (400, 400)
    assert response.json()["msg"].startswith("page must be 1 to 10000000")
