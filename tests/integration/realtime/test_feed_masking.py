"""The feed is open to viewers and admins, with chat text masked as privacy.mask says;
an admin may open it with ?unmask=true (audited), a viewer may not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.core_client import SECRET, encoded, report_body, report_headers
from tests.support.feed_client import connect, feed_url, next_of
from tests.support.live_app import LiveApp, serving
from tests.support.personal_data import PHONE, PHONE_SHOWN, SAID, SAID_SHOWN
from xiaozhi_server.config import Settings

REPORT = "/xiaozhi/agent/chat-history/report"


@pytest.fixture
def app(tmp_path: object) -> Iterator[LiveApp]:
    tokens = ["admin-token", {"token": "viewer-token", "role": "viewer", "name": "wall"}]
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/feed.db"},
            "auth": {"report_secret": SECRET, "api_tokens": tokens, "admin_password": "pw"},
            "privacy": {"mask": ["phone", "email"]},
        }
    )
    with serving(settings) as live:
        yield live


async def report(app: LiveApp, content: str) -> None:
    async with httpx.AsyncClient(base_url=app.base_url) as client:
        answer = await client.post(
            REPORT, content=encoded(report_body(content=content)), headers=report_headers()
        )
    assert answer.json()["code"] == 0


def unmask_entries(app: LiveApp) -> list[dict[str, Any]]:
    answer = httpx.get(
        f"{app.base_url}/api/v2/audit",
        params={"action": "unmask"},
        headers={"Authorization": "Bearer admin-token"},
    )
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


@pytest.mark.parametrize("token", ["viewer-token", "admin-token"])
async def test_live_chat_text_arrives_masked(app: LiveApp, token: str) -> None:
    async with connect(feed_url(app.base_url, token)) as feed:
        await next_of(feed, "welcome")
        await report(app, SAID)
        update = await next_of(feed, "chat_update")
    assert update["data"]["content"] == SAID_SHOWN


async def test_replayed_chat_text_is_masked_too(app: LiveApp) -> None:
    await report(app, SAID)
    async with connect(feed_url(app.base_url, "viewer-token")) as feed:
        await next_of(feed, "welcome")
        await feed.send('{"type": "resume", "since": 0}')
        update = await next_of(feed, "chat_update")
    assert update["data"]["content"] == SAID_SHOWN


async def test_an_admin_opening_the_feed_unmasked_sees_text_as_stored_and_is_audited(
    app: LiveApp,
) -> None:
    async with connect(feed_url(app.base_url, "admin-token") + "&unmask=true") as feed:
        await next_of(feed, "welcome")
        await report(app, SAID)
        update = await next_of(feed, "chat_update")
    assert update["data"]["content"] == SAID
    entry = unmask_entries(app)[0]
    assert (entry["actor"], entry["actor_kind"], entry["target"]) == (
        "api-token",
        "token",
        "/ws/admin",
    )


async def test_masked_and_unmasked_clients_each_get_their_own_view_of_one_event(
    app: LiveApp,
) -> None:
    async with (
        connect(feed_url(app.base_url, "viewer-token")) as masked,
        connect(feed_url(app.base_url, "admin-token") + "&unmask=true") as unmasked,
    ):
        await next_of(masked, "welcome")
        await next_of(unmasked, "welcome")
        await report(app, f"回电 {PHONE}")
        assert (await next_of(masked, "chat_update"))["data"]["content"] == f"回电 {PHONE_SHOWN}"
        assert (await next_of(unmasked, "chat_update"))["data"]["content"] == f"回电 {PHONE}"


async def test_a_viewer_asking_for_the_unmasked_feed_is_closed_with_4403(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url, "viewer-token") + "&unmask=true") as feed:
        with pytest.raises(ConnectionClosed) as closed:
            await next_of(feed, "welcome")
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4403
    assert "unmask" in closed.value.rcvd.reason
    assert unmask_entries(app) == []
