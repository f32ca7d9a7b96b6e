"""Search means the same on SQLite, MariaDB and PostgreSQL: a message is a hit exactly when
its text contains the query, ignoring the case of ASCII letters only.

Each store serves the same messages; every query's hits, read page by page over HTTP, must
equal what a plain substring check over the messages gives. Equal to that on each store,
the three stores return the same hits. The messages are chosen where stores differ: accents
and non-ASCII case (MariaDB's collation folds é to e, PostgreSQL's ILIKE folds Unicode
case), LIKE wildcards, words split by spaces, grams present but not adjacent, text the
index cannot answer (one Chinese character, two letters).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.integration.api.conftest import AUTH
from tests.support.live_app import SEEDED_TOKEN, serving
from tests.support.stores import KINDS, empty_store_url
from xiaozhi_server.config import Settings
from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store

MESSAGES = [
    "今天天气怎么样",
    "天气预报说明天有雨",
    "今天 天气不错",
    "气天今",
    "Hello World",
    "HELLO there",
    "shell scripting",
    "Café au lait",
    "cafe noir",
    "CAFÉ crème",
    "Straße",
    "STRASSE",
    "İstanbul",
    "用iPhone拍照",
    "iphone15发布了",
    "打开客厅的灯 please",
    "100% sure_thing",
    "a_b c%d",
    "表情😀很好",
    "ＡＢＣ全角",
    "Ωmega ωmega",
    "Écorce école",
    "我",
    "x",
]
QUERIES = [
    "天气",
    "今天天气",
    "天",
    "hello",
    "HELLO",
    "hell",
    "ell",
    "lo wo",
    "café",
    "CAFÉ",
    "cafe",
    "straße",
    "strasse",
    "ss",
    "istanbul",
    "İstanbul",
    "iphone",
    "IPHONE拍",
    "e拍照",
    "的灯 pl",
    "%",
    "_",
    "100%",
    "a_b",
    "😀",
    "ａｂｃ",
    "ΩMEGA",
    "ωmega",
    "ÉCOLE",
    "é",
    "Ω",
    "ａ",
    "我",
    "x",
    "不存在",
    "zzz",
]
PAGE = 2  # small pages: every query with several hits goes through before_id


def expected_hits(query: str) -> list[str]:
    """The contract, spelled out without the hub's code: newest first."""
    folded = query.translate(_ASCII_LOWER)
    return [m for m in reversed(MESSAGES) if folded in m.translate(_ASCII_LOWER)]


_ASCII_LOWER = {ord(c): ord(c) + 32 for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


async def _store_messages(url: str) -> None:
    store = Store(url)
    await migrate.upgrade(store.engine)
    ingestor = Ingestor(store, EventBus())
    start = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    for number, text in enumerate(MESSAGES):  # one batch each: ids follow this order
        at = start + timedelta(minutes=number)
        await ingestor.ingest(
            Batch(messages=[MessageRecord("aa:00:00:00:00:01", "s", 1, text, at, "test")])
        )
    await store.close()


@pytest.fixture(scope="module", params=KINDS)
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """A client of the app serving MESSAGES, on each store."""
    with empty_store_url(request.param, request, tmp_path_factory.mktemp("search")) as url:
        asyncio.run(_store_messages(url))
        settings = Settings.model_validate(
            {"storage": {"url": url}, "auth": {"api_tokens": [SEEDED_TOKEN]}}
        )
        with (
            serving(settings) as app,
            httpx.Client(base_url=app.base_url, headers=AUTH, timeout=30) as client,
        ):
            yield client


def all_hits(api: httpx.Client, query: str) -> list[str]:
    """Every hit, page after page."""
    found: list[str] = []
    params: dict[str, str | int] = {"q": query, "limit": PAGE}
    while True:
        page = api.get("/api/v2/messages/search", params=params).json()
        found.extend(item["content"] for item in page["items"])
        if page["next_before_id"] is None:
            return found
        params["before_id"] = page["next_before_id"]


@pytest.mark.parametrize("query", QUERIES)
def test_hits_are_exactly_the_messages_containing_the_query(api: httpx.Client, query: str) -> None:
    assert all_hits(api, query) == expected_hits(query)
