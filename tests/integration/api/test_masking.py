"""With privacy.mask set, every answer that carries chat text shows it masked.

Admins too see masked text unless they pass unmask=true, which is recorded in the audit
trail; a viewer may not. Search runs over the stored text: an admin finds a message by a
masked phone number, a viewer only by what the masked text shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.live_app import SEEDED_TOKEN, LiveApp, serving
from tests.support.personal_data import (
    ANSWER,
    ANSWER_SHOWN,
    ASKED,
    PHONE,
    PHONE_SHOWN,
    SAID,
    SAID_SHOWN,
    SESSION,
    TITLE,
    TITLE_SHOWN,
    add_messages,
    add_personal_conversation,
)
from tests.support.seed import LIVING_ROOM, seed
from xiaozhi_server.config import Settings

ADMIN = {"Authorization": f"Bearer {SEEDED_TOKEN}"}
VIEWER = {"Authorization": "Bearer viewer-token"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApp]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('masking') / 'store.db'}"
    asyncio.run(seed(url))
    asyncio.run(add_personal_conversation(url))
    tokens = [SEEDED_TOKEN, {"token": "viewer-token", "role": "viewer", "name": "wall"}]
    settings = Settings.model_validate(
        {
            "storage": {"url": url},
            "auth": {"api_tokens": tokens, "admin_password": "pw"},
            "privacy": {"mask": ["phone", "id_card", "bank_card", "email"]},
        }
    )
    with serving(settings) as app:
        yield app


def get(live: LiveApp, path: str, headers: dict[str, str], **params: Any) -> Any:
    answer = httpx.get(live.base_url + path, params=params, headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer


def conversation(live: LiveApp, headers: dict[str, str], **params: Any) -> Any:
    return get(live, f"/api/v2/sessions/{SESSION}/messages", headers, **params).json()


def unmask_entries(live: LiveApp) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = get(live, "/api/v2/audit", ADMIN, action="unmask").json()["items"]
    return items


@pytest.mark.parametrize("headers", [VIEWER, ADMIN], ids=["viewer", "admin"])
def test_a_conversation_shows_phone_mail_id_and_card_masked(
    live: LiveApp, headers: dict[str, str]
) -> None:
    page = conversation(live, headers)
    contents = [item["content"] for item in page["items"]]
    assert contents[:2] == [SAID_SHOWN, ANSWER_SHOWN]
    assert contents[3] == ASKED  # an order number is not an ID card
    assert page["session"]["title"] == TITLE_SHOWN


def test_a_tool_calls_arguments_are_masked_too(live: LiveApp) -> None:
    tool = conversation(live, VIEWER)["items"][2]
    assert tool["tool"]["arguments"] == {"number": PHONE_SHOWN}
    assert PHONE not in tool["content"]


def test_session_lists_and_a_devices_history_show_titles_and_text_masked(live: LiveApp) -> None:
    sessions = get(live, "/api/v2/sessions", VIEWER, device=LIVING_ROOM).json()["items"]
    assert TITLE_SHOWN in [s["title"] for s in sessions]
    history = get(live, f"/api/v2/chat-history/{LIVING_ROOM}", VIEWER).text
    assert PHONE_SHOWN in history
    assert PHONE not in history


def test_an_admin_asking_unmask_sees_the_text_as_stored_and_it_is_audited(live: LiveApp) -> None:
    before = len(unmask_entries(live))
    page = conversation(live, ADMIN, unmask="true")
    assert [item["content"] for item in page["items"]][:2] == [SAID, ANSWER]
    assert page["session"]["title"] == TITLE
    entries = unmask_entries(live)
    assert len(entries) == before + 1
    entry = entries[0]
    assert (entry["actor"], entry["target"]) == (
        "api-token",
        f"/api/v2/sessions/{SESSION}/messages",
    )
    assert entry["detail"]["masking"] == ["phone", "id_card", "bank_card", "email"]
    assert PHONE not in str(entry)


def test_a_viewer_asking_unmask_gets_403_and_nothing_is_shown(live: LiveApp) -> None:
    answer = httpx.get(
        f"{live.base_url}/api/v2/sessions/{SESSION}/messages",
        params={"unmask": "true"},
        headers=VIEWER,
    )
    assert answer.status_code == 403
    assert PHONE not in answer.text


def test_an_admin_finds_a_message_by_a_masked_number_and_sees_the_hit_masked(
    live: LiveApp,
) -> None:
    hits = get(live, "/api/v2/messages/search", ADMIN, q=PHONE, chat_type=1).json()["items"]
    assert [hit["content"] for hit in hits] == [SAID_SHOWN]
    hit = hits[0]
    assert PHONE_SHOWN in hit["snippet"]
    start, end = hit["highlights"][0]
    assert hit["snippet"][start:end] == PHONE_SHOWN


def test_an_admin_asking_unmask_sees_search_hits_as_stored(live: LiveApp) -> None:
    found = get(live, "/api/v2/messages/search", ADMIN, q=PHONE, chat_type=1, unmask="true")
    assert [hit["content"] for hit in found.json()["items"]] == [SAID]


def test_a_viewer_cannot_find_a_message_by_a_masked_number(live: LiveApp) -> None:
    found = get(live, "/api/v2/messages/search", VIEWER, q=PHONE).json()
    assert found == {"items": [], "next_before_id": None}


def test_a_viewer_finds_by_what_the_masked_text_shows_and_sees_it_masked(live: LiveApp) -> None:
    hits = get(live, "/api/v2/messages/search", VIEWER, q="手机号").json()["items"]
    assert [hit["content"] for hit in hits] == [SAID_SHOWN]
    assert PHONE not in hits[0]["snippet"]


def test_exports_are_masked_unless_an_admin_asks_and_then_it_is_audited(live: LiveApp) -> None:
    for fmt in ("jsonl", "csv", "txt"):
        masked = get(live, "/api/v2/export", ADMIN, session=SESSION, format=fmt).text
        assert PHONE_SHOWN in masked, fmt
        assert PHONE not in masked, fmt
    before = len(unmask_entries(live))
    raw = get(live, "/api/v2/export", ADMIN, session=SESSION, unmask="true").text
    assert PHONE in raw
    assert len(unmask_entries(live)) == before + 1
    exports = get(live, "/api/v2/audit", ADMIN, action="export").json()["items"]
    assert exports[0]["detail"]["masked"] is False
    assert exports[1]["detail"]["masked"] is True


def test_manager_api_compatible_reads_are_masked(live: LiveApp) -> None:
    prefix = "/xiaozhi/agent/agent-zh"
    sessions = get(live, f"{prefix}/sessions", VIEWER, limit="100").json()["data"]["list"]
    assert TITLE_SHOWN in [s["title"] for s in sessions]
    turns = get(live, f"{prefix}/chat-history/{SESSION}", VIEWER).json()["data"]
    assert turns[0]["content"] == SAID_SHOWN


def test_a_viewers_search_pages_past_hits_only_the_stored_text_has(tmp_path: object) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/paging.db"
    asyncio.run(seed(url))
    asyncio.run(add_messages(url, ["房间号1234"] + [f"电话{PHONE}"] * 12))
    settings = Settings.model_validate(
        {
            "storage": {"url": url},
            "auth": {"api_tokens": [{"token": "viewer-token", "role": "viewer"}]},
            "privacy": {"mask": ["phone"]},
        }
    )
    with serving(settings) as app:
        found = get(app, "/api/v2/messages/search", VIEWER, q="1234", limit=5).json()
    assert [hit["content"] for hit in found["items"]] == ["房间号1234"]
    assert found["next_before_id"] is None
