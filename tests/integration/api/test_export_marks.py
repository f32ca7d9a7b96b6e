"""Exports carry marks (JSON lines, CSV, transcript) and filter by star and tag; notes are
never written to the log."""

from __future__ import annotations

import csv
import io
import json
import logging

import httpx
import pytest

from tests.support.marked_app import admin, message_id, viewer, writable

__all__ = ["admin", "viewer", "writable"]

NOTE = "=需要回访，家长电话见工单"


@pytest.fixture
def marked(admin: httpx.Client) -> int:
    """s-weather starred with a note and tags, and its reply noted and tagged."""
    admin.patch(
        "/api/v2/sessions/s-weather/marks",
        json={"starred": True, "note": NOTE, "tags": ["投诉", "weather"]},
    ).raise_for_status()
    reply = message_id(admin, "s-weather", "今天深圳晴，22度。")
    admin.patch(
        f"/api/v2/messages/{reply}/marks", json={"note": "答对了", "tags": ["good"]}
    ).raise_for_status()
    return reply


def test_json_lines_carry_the_session_marks_and_the_messages_own(
    admin: httpx.Client, marked: int
) -> None:
    text = admin.get("/api/v2/export", params={"format": "jsonl", "session": "s-weather"}).text
    lines = {line["id"]: line for line in map(json.loads, text.splitlines())}
    reply = lines[marked]
    assert (reply["starred"], reply["session_note"], reply["session_tags"]) == (
        True,
        NOTE,
        ["weather", "投诉"],
    )
    assert (reply["note"], reply["tags"]) == ("答对了", ["good"])
    others = [line for key, line in lines.items() if key != marked]
    assert {(line["note"], tuple(line["tags"])) for line in others} == {(None, ())}


def test_csv_has_mark_columns_with_tags_comma_separated_and_formulas_defused(
    admin: httpx.Client, marked: int
) -> None:
    text = admin.get("/api/v2/export", params={"format": "csv", "session": "s-weather"}).text
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    reply = rows[str(marked)]
    marks = (reply["starred"], reply["session_tags"], reply["tags"])
    assert marks == ("True", "weather,投诉", "good")
    assert reply["session_note"] == "'" + NOTE


def test_the_transcript_shows_star_tags_and_notes_under_their_lines(
    admin: httpx.Client, marked: int
) -> None:
    text = admin.get("/api/v2/export", params={"format": "txt", "session": "s-weather"}).text
    assert "    ★ 星标 Starred\n    # weather, 投诉\n" in text
    assert f"    ✎ {NOTE}\n" in text
    assert "今天深圳晴，22度。\n    # good\n    ✎ 答对了\n" in text


@pytest.mark.parametrize(
    ("params", "sessions"),
    [
        ({"starred": "true"}, {"s-weather"}),
        ({"tag": "投诉"}, {"s-weather"}),
        ({"starred": "false"}, {"s-music", "s-english"}),
    ],
)
def test_exports_filter_by_star_and_tag(
    admin: httpx.Client, marked: int, params: dict[str, str], sessions: set[str]
) -> None:
    text = admin.get("/api/v2/export", params={"format": "jsonl", **params}).text
    assert {json.loads(line)["session_id"] for line in text.splitlines()} == sessions


def test_a_tag_filter_exports_only_messages_tagged_so_or_in_a_session_tagged_so(
    admin: httpx.Client, marked: int
) -> None:
    text = admin.get("/api/v2/export", params={"format": "jsonl", "tag": "good"}).text
    assert [json.loads(line)["id"] for line in text.splitlines()] == [marked]


def test_notes_are_never_logged(
    admin: httpx.Client, viewer: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "便条-从不写入日志-7f3a"
    with caplog.at_level(logging.DEBUG):
        viewer.patch("/api/v2/sessions/s-music/marks", json={"note": secret, "tags": [secret]})
        viewer.get("/api/v2/sessions/s-music/marks")
        admin.get("/api/v2/export", params={"format": "txt", "session": "s-music"})
    assert caplog.records
    assert secret not in caplog.text
