"""Any body, any content type, over a real socket: a stored turn or a 4xx envelope, never a 5xx
and never part of a turn (a message without its audio, or audio without its message)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.core_client import SECRET
from tests.support.live_app import serving
from tests.support.report_strategies import CONTENT_LIMIT, any_bodies
from xiaozhi_server.config import Settings
from xiaozhi_server.ingest.normalise import normalise_device, strip_controls

REPORT = "/xiaozhi/agent/chat-history/report"
CONTENT_TYPES = st.sampled_from(
    ["application/json"] * 6 + ["application/json; charset=utf-8", "text/plain", ""]
)


class Hub:
    """A running hub on an SQLite file, and an HTTP client and a reader for its store."""

    def __init__(self, client: httpx.Client, database: Path) -> None:
        self.client = client
        self.database = database

    def counts(self) -> tuple[int, int]:
        with sqlite3.connect(self.database) as db:
            messages = db.execute("SELECT count(*) FROM messages").fetchone()[0]
            audio = db.execute("SELECT count(*) FROM audio").fetchone()[0]
        return messages, audio

    def rows_like(self, report: dict[str, Any]) -> list[tuple[str, str | None]]:
        with sqlite3.connect(self.database) as db:
            return db.execute(
                "SELECT created_at, audio_id FROM messages WHERE device = ? AND session_id = ?"
                " AND chat_type = ? AND content = ?",
                (
                    normalise_device(report["macAddress"]),
                    report["sessionId"].strip(),
                    report["chatType"],
                    strip_controls(report["content"]),
                ),
            ).fetchall()

    def has_audio(self, audio_id: str) -> bool:
        with sqlite3.connect(self.database) as db:
            query = "SELECT count(*) FROM audio WHERE audio_id = ?"
            return bool(db.execute(query, (audio_id,)).fetchone()[0])


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    database = tmp_path_factory.mktemp("report-fuzz") / "store.db"
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{database}"},
            "auth": {"report_secret": SECRET, "admin_password": "pw"},
            "capture": {"max_audio_bytes": 100_000, "max_content_chars": CONTENT_LIMIT},
        }
    )
    with serving(settings) as live, httpx.Client(base_url=live.base_url, timeout=30) as client:
        yield Hub(client, database)


@settings(
    max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=any_bodies, content_type=CONTENT_TYPES)
def test_any_body_is_stored_whole_or_refused_with_a_4xx_envelope(
    hub: Hub, body: bytes, content_type: str
) -> None:
    before = hub.counts()
    headers = {"Authorization": f"Bearer {SECRET}", "Content-Type": content_type}
    response = hub.client.post(REPORT, content=body, headers=headers)
    assert response.status_code < 500, response.text
    envelope = response.json()
    assert set(envelope) == {"code", "msg", "data"}
    if response.status_code != 200:
        assert envelope["code"] == response.status_code
        assert hub.counts() == before
        return
    assert envelope == {"code": 0, "msg": "success", "data": True}
    report = json.loads(body)
    rows = hub.rows_like(report)
    assert rows, "an acknowledged turn is in the store"
    if report.get("reportTime") is not None:
        assert expected_time(report["reportTime"]) in {created for created, _ in rows}
    for _, audio_id in rows:
        assert audio_id is None or hub.has_audio(audio_id)


def expected_time(report_time: int) -> str:
    """How the SQLite store writes the turn's time (UTC, milliseconds)."""
    millis = report_time if report_time >= 100_000_000_000 else report_time * 1000
    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
    return moment.replace(tzinfo=None).isoformat(" ", "milliseconds")
