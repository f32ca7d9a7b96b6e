"""Share links: a read-only page of one session without credentials, audio included, that
expires, can be revoked, is listed, and carries nothing else of the hub."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from tests.support.live_app import LiveApp
from tests.support.marked_app import admin, client, viewer, writable
from tests.support.seed import AUDIO
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import shares

__all__ = ["admin", "viewer", "writable"]


def share(http: httpx.Client, session_id: str = "s-weather", **body: int) -> dict[str, str]:
    answer = http.post(f"/api/v2/sessions/{session_id}/share", json=body or None)
    assert answer.status_code == 201, answer.text
    created: dict[str, str] = answer.json()
    return created


@pytest.fixture
def anonymous(writable: LiveApp) -> Iterator[httpx.Client]:
    with client(writable, None) as http:
        yield http


def test_a_link_serves_the_session_read_only_without_credentials(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    created = share(admin)
    page = anonymous.get(created["url"], headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "小智，今天深圳天气怎么样？" in page.text
    assert "今天深圳晴，22度。" in page.text
    assert "<h1>深圳天气</h1>" in page.text


def test_the_answer_is_created_with_id_url_and_a_default_of_seven_days(
    admin: httpx.Client,
) -> None:
    before = datetime.now(UTC)
    created = share(admin)
    assert set(created) >= {"id", "url", "expires_at"}
    assert re.fullmatch(r"/share/[A-Za-z0-9_-]{43}", created["url"])
    assert created["id"] not in created["url"]
    expires = datetime.fromisoformat(created["expires_at"])
    assert before + timedelta(days=7) <= expires <= datetime.now(UTC) + timedelta(days=7)


def test_a_body_chooses_how_many_days_the_link_works(admin: httpx.Client) -> None:
    created = share(admin, expires_in_days=30)
    expires = datetime.fromisoformat(created["expires_at"])
    assert expires > datetime.now(UTC) + timedelta(days=29)


def test_the_page_is_noindex_and_carries_nothing_else_of_the_hub(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    page = anonymous.get(share(admin)["url"])
    assert "noindex" in page.headers["x-robots-tag"]
    assert '<meta name="robots" content="noindex, nofollow">' in page.text
    for foreign in ("/console", "/api/", "<script", "<nav", "s-music", "s-english", "test-token"):
        assert foreign not in page.text


def test_the_page_plays_the_sessions_audio_with_ranges(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    url = share(admin)["url"]
    assert f'src="{url}/audio/audio-1"' in anonymous.get(url).text
    whole = anonymous.get(f"{url}/audio/audio-1")
    assert (whole.status_code, whole.content) == (200, AUDIO)
    assert "noindex" in whole.headers["x-robots-tag"]
    part = anonymous.get(f"{url}/audio/audio-1", headers={"Range": "bytes=0-9"})
    assert (part.status_code, part.content) == (206, AUDIO[:10])


def test_a_link_plays_no_recording_of_another_session(
    admin: httpx.Client, anonymous: httpx.Client
) -> None:
    url = share(admin, "s-music")["url"]
    assert anonymous.get(f"{url}/audio/audio-1").status_code == 404


def test_a_revoked_link_answers_404(admin: httpx.Client, anonymous: httpx.Client) -> None:
    created = share(admin)
    revoked = admin.delete(f"/api/v2/shares/{created['id']}")
    assert revoked.json() == {"revoked": created["id"]}
    gone = anonymous.get(created["url"])
    assert gone.status_code == 404
    assert "noindex" in gone.headers["x-robots-tag"]
    assert anonymous.get(f"{created['url']}/audio/audio-1").status_code == 404


def test_an_expired_link_answers_410(
    admin: httpx.Client, anonymous: httpx.Client, writable: LiveApp
) -> None:
    created = share(admin)
    asyncio.run(expire(writable, created["id"]))
    assert anonymous.get(created["url"]).status_code == 410
    assert anonymous.get(f"{created['url']}/audio/audio-1").status_code == 410


def test_an_unknown_link_answers_404(anonymous: httpx.Client) -> None:
    assert anonymous.get("/share/" + "A" * 43).status_code == 404
    assert anonymous.get("/share/short").status_code == 404


def test_links_are_listed_with_title_and_expiry_but_not_their_secret(
    admin: httpx.Client,
) -> None:
    created = share(admin, "s-music")
    listed = {item["id"]: item for item in admin.get("/api/v2/shares").json()["items"]}
    item = listed[created["id"]]
    assert (item["session_id"], item["title"], item["expired"]) == ("s-music", "播放音乐", False)
    assert item["created_by"] == "api-token"
    assert created["url"].rsplit("/", 1)[1] not in str(listed)


def test_only_a_hash_of_the_secret_is_stored(admin: httpx.Client, writable: LiveApp) -> None:
    created = share(admin)
    stored = asyncio.run(stored_shares(writable))
    assert created["url"].rsplit("/", 1)[1] not in str(stored)


def test_two_links_to_one_session_have_different_ids_and_secrets(admin: httpx.Client) -> None:
    first, second = share(admin), share(admin)
    assert first["id"] != second["id"]
    assert first["url"] != second["url"]


def test_creating_and_revoking_are_audited(admin: httpx.Client) -> None:
    created = share(admin)
    admin.delete(f"/api/v2/shares/{created['id']}").raise_for_status()
    entries = admin.get("/api/v2/audit", params={"limit": 2}).json()["items"]
    assert [(e["action"], e["target"], e["detail"]["share"]) for e in entries] == [
        ("share_revoke", "session s-weather", created["id"]),
        ("share", "session s-weather", created["id"]),
    ]


def test_a_viewer_may_not_share_nor_list_nor_revoke(
    admin: httpx.Client, viewer: httpx.Client
) -> None:
    created = share(admin)
    assert viewer.post("/api/v2/sessions/s-weather/share").status_code == 403
    assert viewer.get("/api/v2/shares").status_code == 403
    assert viewer.delete(f"/api/v2/shares/{created['id']}").status_code == 403


def test_sharing_an_unknown_session_is_404_and_revoking_an_unknown_share_too(
    admin: httpx.Client,
) -> None:
    assert admin.post("/api/v2/sessions/nope/share").status_code == 404
    assert admin.delete("/api/v2/shares/nope").status_code == 404


@pytest.mark.parametrize("days", [0, 91])
def test_days_outside_1_to_90_are_400(admin: httpx.Client, days: int) -> None:
    answer = admin.post("/api/v2/sessions/s-weather/share", json={"expires_in_days": days})
    assert answer.status_code == 400
    assert answer.json()["error"]["parameter"] == "expires_in_days"


async def expire(app: LiveApp, share_id: str) -> None:
    store = Store(app.settings.storage.url)
    try:
        async with store.write() as connection:
            await connection.execute(
                update(shares)
                .where(shares.c.id == share_id)
                .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
            )
    finally:
        await store.close()


async def stored_shares(app: LiveApp) -> list[dict[str, object]]:
    store = Store(app.settings.storage.url)
    try:
        async with store.read() as connection:
            return [dict(row._mapping) for row in await connection.execute(select(shares))]
    finally:
        await store.close()


def test_days_as_text_are_400_not_converted(admin: httpx.Client) -> None:
    answer = admin.post("/api/v2/sessions/s-weather/share", json={"expires_in_days": "7"})
    assert answer.status_code == 400


def test_days_as_a_whole_json_number_with_a_fraction_part_are_accepted(
    admin: httpx.Client,
) -> None:
    answer = admin.post("/api/v2/sessions/s-weather/share", json={"expires_in_days": 3.0})
    assert answer.status_code == 201
