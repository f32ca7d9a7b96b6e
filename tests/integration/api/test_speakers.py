"""Voiceprint speakers through the read API, the exports and manager-api's reads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.core_client import SECRET, encoded, report_body, report_headers
from tests.support.live_app import LiveApp, serving
from xiaozhi_server.config import Settings

AUTH = {"Authorization": "Bearer test-token"}
SESSION = "s-family"
GRANDMA = json.dumps({"speaker": "奶奶", "content": "明天会下雨吗"}, ensure_ascii=False)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('speakers') / 'store.db'}"
    settings = Settings.model_validate(
        {
            "storage": {"url": url},
            "auth": {"report_secret": SECRET, "api_tokens": ["test-token"], "admin_password": "pw"},
        }
    )
    turns = [(1, GRANDMA), (2, "明天有小雨，记得带伞。"), (1, "下雨天玩什么")]
    with serving(settings) as live:
        for n, (chat_type, content) in enumerate(turns):
            body = report_body(
                session_id=SESSION,
                chat_type=chat_type,
                content=content,
                report_time=1_795_000_000_000 + n * 1000,
            )
            answer = httpx.post(
                f"{live.base_url}/xiaozhi/agent/chat-history/report",
                content=encoded(body),
                headers=report_headers(),
            )
            assert answer.json()["code"] == 0
        yield live


def get(app: LiveApp, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{app.base_url}{path}", params=params, headers=AUTH)


def test_messages_carry_the_speaker_and_plain_text_and_null_without_one(app: LiveApp) -> None:
    items = get(app, f"/api/v2/sessions/{SESSION}/messages").json()["items"]
    assert [(m["speaker"], m["content"]) for m in items] == [
        ("奶奶", "明天会下雨吗"),
        (None, "明天有小雨，记得带伞。"),
        (None, "下雨天玩什么"),
    ]


def test_search_finds_the_plain_text_of_one_speaker(app: LiveApp) -> None:
    found = get(app, "/api/v2/messages/search", q="下雨", speaker="奶奶").json()["items"]
    assert [(hit["speaker"], hit["content"]) for hit in found] == [("奶奶", "明天会下雨吗")]


def test_a_speaker_name_longer_than_any_stored_one_is_refused(app: LiveApp) -> None:
    response = get(app, "/api/v2/messages/search", q="下雨", speaker="名" * 129)
    assert response.status_code == 400
    assert "speaker" in response.text


def test_jsonl_export_carries_the_speaker(app: LiveApp) -> None:
    text = get(app, "/api/v2/export", format="jsonl", session=SESSION).text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["speaker"] for line in lines] == ["奶奶", None, None]
    assert lines[0]["content"] == "明天会下雨吗"


def test_csv_export_has_a_speaker_column(app: LiveApp) -> None:
    text = get(app, "/api/v2/export", format="csv", session=SESSION).text
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(row["speaker"], row["content"]) for row in rows[:1]] == [("奶奶", "明天会下雨吗")]


def test_the_transcript_names_the_speaker_beside_the_plain_text(app: LiveApp) -> None:
    text = get(app, "/api/v2/export", format="txt", session=SESSION).text
    assert "用户 User · 奶奶: 明天会下雨吗" in text
    assert "用户 User: 下雨天玩什么" in text


def test_manager_api_compatible_reads_give_the_cores_form_back(app: LiveApp) -> None:
    turns = get(app, f"/xiaozhi/agent/any-agent/chat-history/{SESSION}").json()["data"]
    assert json.loads(turns[0]["content"]) == {"speaker": "奶奶", "content": "明天会下雨吗"}
    assert turns[2]["content"] == "下雨天玩什么"
