"""Stars, notes and tags on sessions and messages, through the API, on every store."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.http import assert_bad_parameter
from tests.support.marked_app import admin, message_id, viewer, writable

__all__ = ["admin", "viewer", "writable"]

NOTE = "家长反映：孩子问天气时回答太慢"


def session_ids(body: dict[str, Any]) -> list[str]:
    return [item["session_id"] for item in body["items"]]


def test_a_starred_session_is_starred_in_lists_and_in_its_conversation(
    admin: httpx.Client,
) -> None:
    admin.patch("/api/v2/sessions/s-music/marks", json={"starred": True}).raise_for_status()
    listed = {s["session_id"]: s for s in admin.get("/api/v2/sessions").json()["items"]}
    assert [listed[s]["starred"] for s in ("s-music", "s-weather", "s-english")] == [
        True,
        False,
        False,
    ]
    conversation = admin.get("/api/v2/sessions/s-music/messages").json()
    assert conversation["session"]["starred"] is True


def test_a_note_and_tags_on_a_session_come_back_as_written_with_who_and_when(
    admin: httpx.Client,
) -> None:
    answer = admin.patch(
        "/api/v2/sessions/s-weather/marks", json={"note": NOTE, "tags": ["投诉", "weather"]}
    )
    assert answer.status_code == 200, answer.text
    marks = admin.get("/api/v2/sessions/s-weather/marks").json()
    assert (marks["note"], marks["tags"], marks["starred"]) == (NOTE, ["weather", "投诉"], False)
    assert marks["updated_by"] == "api-token"
    assert marks["updated_at"] is not None


def test_changing_only_the_tags_keeps_the_star_and_the_note(admin: httpx.Client) -> None:
    admin.patch("/api/v2/sessions/s-music/marks", json={"starred": True, "note": "好"})
    admin.patch("/api/v2/sessions/s-music/marks", json={"tags": ["music"]})
    marks = admin.get("/api/v2/sessions/s-music/marks").json()
    assert (marks["starred"], marks["note"], marks["tags"]) == (True, "好", ["music"])


def test_a_null_note_removes_it(admin: httpx.Client) -> None:
    admin.patch("/api/v2/sessions/s-music/marks", json={"note": "临时"})
    admin.patch("/api/v2/sessions/s-music/marks", json={"note": None})
    assert admin.get("/api/v2/sessions/s-music/marks").json()["note"] is None


def test_a_note_and_tags_on_a_message_are_listed_with_the_session_marks(
    admin: httpx.Client,
) -> None:
    reply = message_id(admin, "s-weather", "今天深圳晴，22度。")
    answer = admin.patch(
        f"/api/v2/messages/{reply}/marks", json={"note": "回答正确", "tags": ["good"]}
    )
    assert answer.json()["message_id"] == reply
    marks = admin.get("/api/v2/sessions/s-weather/marks").json()
    assert [(m["message_id"], m["note"], m["tags"]) for m in marks["messages"]] == [
        (reply, "回答正确", ["good"])
    ]
    assert (marks["note"], marks["tags"]) == (None, [])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"starred": "true"}, ["s-music"]),
        ({"starred": "false"}, ["s-english", "s-weather"]),
        ({"tag": "投诉"}, ["s-weather"]),
        ({"tag": "good"}, ["s-english"]),
        ({"tag": "nobody-uses-this"}, []),
    ],
)
def test_sessions_filter_by_star_and_by_tag_on_the_session_or_a_message(
    admin: httpx.Client, params: dict[str, str], expected: list[str]
) -> None:
    admin.patch("/api/v2/sessions/s-music/marks", json={"starred": True})
    admin.patch("/api/v2/sessions/s-weather/marks", json={"tags": ["投诉"]})
    hello = message_id(admin, "s-english", "Hello! Of course I can help.")
    admin.patch(f"/api/v2/messages/{hello}/marks", json={"tags": ["good"]})
    assert session_ids(admin.get("/api/v2/sessions", params=params).json()) == expected


def test_search_finds_only_hits_tagged_themselves_or_through_their_session(
    admin: httpx.Client,
) -> None:
    hello = message_id(admin, "s-english", "Hello! Of course I can help.")
    admin.patch(f"/api/v2/messages/{hello}/marks", json={"tags": ["good"]})
    admin.patch("/api/v2/sessions/s-weather/marks", json={"tags": ["good"], "starred": True})
    found = admin.get("/api/v2/messages/search", params={"q": "help", "tag": "good"}).json()
    assert [hit["id"] for hit in found["items"]] == [hello]
    weather = admin.get("/api/v2/messages/search", params={"q": "深圳", "tag": "good"}).json()
    assert {hit["session_id"] for hit in weather["items"]} == {"s-weather"}
    starred = admin.get("/api/v2/messages/search", params={"q": "晴", "starred": "true"}).json()
    assert {hit["session_id"] for hit in starred["items"]} == {"s-weather"}


def test_the_tag_list_counts_the_sessions_carrying_each_tag(admin: httpx.Client) -> None:
    admin.patch("/api/v2/sessions/s-weather/marks", json={"tags": ["a", "b"]})
    admin.patch("/api/v2/sessions/s-music/marks", json={"tags": ["a"]})
    tags = admin.get("/api/v2/tags").json()["items"]
    assert tags == [{"tag": "a", "sessions": 2}, {"tag": "b", "sessions": 1}]


def test_a_viewer_may_star_note_and_tag(viewer: httpx.Client) -> None:
    answer = viewer.patch(
        "/api/v2/sessions/s-english/marks", json={"starred": True, "tags": ["review"]}
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["updated_by"] == "reader"


def test_each_change_is_audited_without_the_note_or_the_tags(admin: httpx.Client) -> None:
    admin.patch(
        "/api/v2/sessions/s-english/marks",
        json={"starred": True, "note": "秘密备注", "tags": ["机密标签"]},
    ).raise_for_status()
    entry = admin.get("/api/v2/audit", params={"action": "mark", "limit": 1}).json()["items"][0]
    assert (entry["target"], entry["actor"]) == ("session s-english", "api-token")
    assert entry["detail"] == {"changed": ["note", "starred", "tags"], "tags": 1, "starred": True}
    assert "秘密备注" not in str(entry)
    assert "机密标签" not in str(entry)


def test_marking_an_unknown_session_or_message_is_404(admin: httpx.Client) -> None:
    assert admin.patch("/api/v2/sessions/nope/marks", json={"starred": True}).status_code == 404
    assert admin.get("/api/v2/sessions/nope/marks").status_code == 404
    assert admin.patch("/api/v2/messages/999999/marks", json={"note": "x"}).status_code == 404


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({}, "body"),
        ({"tags": ["a,b"]}, "tags"),
        ({"tags": [" padded"]}, "tags"),
        ({"tags": ["x" * 33]}, "tags"),
        ({"tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"note": "x" * 4001}, "note"),
        ({"note": "nul\u0000"}, "note"),
        ({"starred": None}, "starred"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_changes_are_400_naming_the_field(
    admin: httpx.Client, body: dict[str, Any], parameter: str
) -> None:
    assert_bad_parameter(admin.patch("/api/v2/sessions/s-music/marks", json=body), parameter)


def test_a_tag_filter_outside_the_tag_rules_is_400(admin: httpx.Client) -> None:
    assert_bad_parameter(admin.get("/api/v2/sessions", params={"tag": "a,b"}), "tag")


@pytest.mark.parametrize(
    ("body", "parameter"),
    [({"starred": 0}, "starred"), ({"tags": "a"}, "tags"), ({"note": 5}, "note")],
)
def test_values_of_the_wrong_type_are_400_not_converted(
    admin: httpx.Client, body: dict[str, Any], parameter: str
) -> None:
    assert_bad_parameter(admin.patch("/api/v2/sessions/s-music/marks", json=body), parameter)


def test_a_lone_surrogate_in_a_note_is_400(admin: httpx.Client) -> None:
    answer = admin.patch(
        "/api/v2/sessions/s-music/marks",
        content=b'{"note": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert_bad_parameter(answer, "note")
