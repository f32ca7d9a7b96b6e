"""The report endpoint speaks manager-api's contract: what the core sends is stored once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.core_client import SECRET, encoded, report_body, report_headers, wav_bytes
from tests.support.live_app import LiveApp, serving
from xiaozhi_server.config import Settings
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio, messages

REPORT = "/xiaozhi/agent/chat-history/report"


def capture_settings(url: str) -> Settings:
    return Settings.model_validate(
        {
            "storage": {"url": url},
            "auth": {"report_secret": SECRET, "api_tokens": ["test-token"], "admin_password": "pw"},
            "capture": {"max_audio_bytes": 100_000, "max_content_chars": 1000},
        }
    )


@pytest.fixture
def app(store_url: str) -> Iterator[LiveApp]:
    with serving(capture_settings(store_url)) as live:
        yield live


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = Store(store_url)
    yield opened
    await opened.close()


async def stored_rows(store: Store, table: Any = messages) -> list[dict[str, Any]]:
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(table))]


async def post(app: LiveApp, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(base_url=app.base_url) as client:
        return await client.post(REPORT, content=body, headers=headers or report_headers())


async def test_what_the_core_sends_is_stored_once_with_its_audio(
    app: LiveApp, store: Store
) -> None:
    wav = wav_bytes()
    user = report_body(chat_type=1, content="小智，今天天气怎么样？")
    tool = report_body(
        session_id=user["sessionId"],
        chat_type=3,
        content='[{"type":"tool","text":"get_weather({\\"city\\":\\"深圳\\"})"}]',
        report_time=user["reportTime"] + 400,
    )
    agent = report_body(
        session_id=user["sessionId"],
        chat_type=2,
        content="今天深圳晴。",
        audio=wav,
        report_time=user["reportTime"] + 900,
    )
    for body in (user, tool, agent, agent):  # the last one is the core's retry
        response = await post(app, encoded(body))
        assert response.status_code == 200
        assert response.json() == {"code": 0, "msg": "success", "data": True}
    rows = sorted(await stored_rows(store), key=lambda row: row["created_at"])
    assert [(r["chat_type"], r["content"]) for r in rows] == [
        (1, user["content"]),
        (3, tool["content"]),
        (2, agent["content"]),
    ]
    assert rows[0]["device"] == "a0:85:e3:12:34:56"
    assert int(rows[0]["created_at"].timestamp() * 1000) == user["reportTime"]
    [stored_audio] = await stored_rows(store, audio)
    assert stored_audio["data"] == wav
    assert rows[2]["audio_id"] == stored_audio["audio_id"]


async def test_report_time_in_seconds_or_null_is_accepted(app: LiveApp, store: Store) -> None:
    seconds = report_body(report_time=1_795_521_600)
    now = report_body()
    now["reportTime"] = None
    for body in (seconds, now):
        assert (await post(app, encoded(body))).json()["code"] == 0
    times = {row["session_id"]: row["created_at"] for row in await stored_rows(store)}
    assert times[seconds["sessionId"]].timestamp() == 1_795_521_600


async def test_concurrent_reports_are_all_stored(app: LiveApp, store: Store) -> None:
    bodies = [report_body(content=f"turn {n}") for n in range(40)]
    async with httpx.AsyncClient(base_url=app.base_url) as client:
        answers = await asyncio.gather(
            *(client.post(REPORT, content=encoded(b), headers=report_headers()) for b in bodies)
        )
    assert {a.json()["code"] for a in answers} == {0}
    assert len(await stored_rows(store)) == 40


def _body(**changes: Any) -> bytes:
    body = report_body() | changes
    return encoded({k: v for k, v in body.items() if v != "<absent>"})


BAD_INPUTS = [
    ("missing macAddress", _body(macAddress="<absent>"), 400, "macAddress"),
    ("blank sessionId", _body(sessionId="  "), 400, "sessionId"),
    ("missing content", _body(content="<absent>"), 400, "content"),
    ("blank content", _body(content=""), 400, "content"),
    ("chatType as string", _body(chatType="1"), 400, "chatType"),
    ("unknown chatType", _body(chatType=4), 400, "chatType"),
    ("content not a string", _body(content=123), 400, "content"),
    ("reportTime in the far future", _body(reportTime=99_999_999_999_999), 400, "reportTime"),
    ("reportTime negative", _body(reportTime=-5), 400, "reportTime"),
    ("reportTime as text", _body(reportTime="now"), 400, "reportTime"),
    ("invalid base64", _body(audioBase64="@@not base64@@"), 400, "audioBase64"),
    ("audio that is not WAV", _body(audioBase64="aGVsbG8gd29ybGQgaGVsbG8="), 400, "audioBase64"),
    ("audio over the limit", _body(audioBase64="UklGR" + "A" * 200_000), 413, "audioBase64"),
    ("content over the limit", _body(content="长" * 1001), 413, "content"),
    ("macAddress too long", _body(macAddress="m" * 65), 400, "macAddress"),
    ("malformed JSON", b'{"macAddress": "x",', 400, "body"),
    ("JSON array", b"[1, 2]", 400, "body"),
    ("not UTF-8", b'{"content": "\xff\xfe"}', 400, "body"),
    ("JSON nested 100,000 deep", b"[" * 100_000 + b"]" * 100_000, 400, "body"),
    ("an integer of 4,400 digits", _body(reportTime=0)[:-2] + b"9" * 4400 + b"}", 400, "body"),
    ("a 4,400-digit integer in any field", b'{"x": ' + b"1" * 4400 + b"}", 400, "body"),
    ("NaN", _body(reportTime="<nan>").replace(b'"<nan>"', b"NaN"), 400, "body"),
    ("a control character in macAddress", _body(macAddress="a0:85\x00"), 400, "macAddress"),
    ("a newline in sessionId", _body(sessionId="s-1\n"), 400, "sessionId"),
    ("content only of control characters", _body(content="\x00\x07\x1b"), 400, "content"),
]


@pytest.mark.parametrize(
    ("case", "body", "status", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS]
)
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_bad_input_gets_a_4xx_envelope_naming_the_field_and_stores_nothing(
    app: LiveApp, store: Store, case: str, body: bytes, status: int, field: str
) -> None:
    response = await post(app, body)
    assert response.status_code == status
    envelope = response.json()
    assert envelope["code"] != 0
    assert envelope["msg"].startswith(field)
    assert envelope["data"] is None
    assert await stored_rows(store) == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json"},
        report_headers("wrong-secret"),
        {"Authorization": SECRET, "Content-Type": "application/json"},
    ],
    ids=["missing", "wrong", "not bearer"],
)
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_missing_or_wrong_secret_gets_401(
    app: LiveApp, store: Store, headers: dict[str, str]
) -> None:
    response = await post(app, encoded(report_body()), headers)
    assert response.status_code == 401
    assert response.json()["code"] == 401
    assert await stored_rows(store) == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_outcomes_are_counted_in_metrics(app: LiveApp) -> None:
    await post(app, encoded(report_body()))
    await post(app, encoded(report_body()), report_headers("wrong"))
    async with httpx.AsyncClient(base_url=app.base_url) as client:
        text = (await client.get("/metrics")).text
    assert 'xiaozhi_report_requests_total{outcome="stored"}' in text
    assert 'xiaozhi_report_requests_total{outcome="unauthorized"}' in text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_report_answer_carries_the_app_headers_and_is_timed_under_its_route(
    app: LiveApp,
) -> None:
    response = await post(app, encoded(report_body()), report_headers() | {"X-Request-ID": "r-1"})
    async with httpx.AsyncClient(base_url=app.base_url) as client:
        text = (await client.get("/metrics")).text
    assert response.json() == {"code": 0, "msg": "success", "data": True}
    assert response.headers["x-request-id"] == "r-1"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert f'route="{REPORT}",status="2xx"' in text


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ],
    ids=["text", "form", "multipart", "missing"],
)
@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_body_that_is_not_json_by_content_type_gets_415_and_is_not_stored(
    app: LiveApp, store: Store, content_type: str | None
) -> None:
    headers = {"Authorization": f"Bearer {SECRET}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await post(app, encoded(report_body()), headers)
    assert response.status_code == 415
    assert response.json() == {
        "code": 415,
        "msg": response.json()["msg"],
        "data": None,
    }
    assert "application/json" in response.json()["msg"]
    assert await stored_rows(store) == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_json_with_a_charset_is_accepted(app: LiveApp, store: Store) -> None:
    headers = report_headers() | {"Content-Type": "application/json; charset=UTF-8"}
    assert (await post(app, encoded(report_body()), headers)).json()["code"] == 0
    assert len(await stored_rows(store)) == 1


async def test_control_characters_in_content_are_dropped_and_the_text_kept(
    app: LiveApp, store: Store
) -> None:
    body = report_body(content="你好\x00小智\x07!\tline\r\nnext\x7f")
    assert (await post(app, encoded(body))).json()["code"] == 0
    [row] = await stored_rows(store)
    assert row["content"] == "你好小智!\tline\r\nnext"


async def test_a_retry_of_a_turn_with_control_characters_is_one_row(
    app: LiveApp, store: Store
) -> None:
    body = report_body(content="天气\x00怎么样")
    for _ in range(2):
        assert (await post(app, encoded(body))).json()["code"] == 0
    assert len(await stored_rows(store)) == 1
