"""/ws/admin: authenticated, filtered, resumable, bounded — over a real socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from tests.integration.realtime.live_hub import REPORT, feed_settings, report
from tests.support.core_client import encoded, report_body, report_headers
from tests.support.feed_client import collect, connect, feed_url, next_of, receive
from tests.support.live_app import LiveApp, serving


@pytest.fixture
def app(store_url: str) -> Iterator[LiveApp]:
    with serving(feed_settings(store_url)) as live:
        yield live


async def test_each_reported_turn_arrives_once_as_chat_update(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await next_of(feed, "welcome")
        body = report_body(content="实时消息 live")
        for _ in range(2):  # the core's retry
            async with httpx.AsyncClient(base_url=app.base_url) as client:
                await client.post(REPORT, content=encoded(body), headers=report_headers())
        updates = await collect(feed, "chat_update")
    assert len(updates) == 1
    message = updates[0]["data"]
    assert (message["content"], message["chat_type"], message["device"]) == (
        "实时消息 live",
        1,
        "a0:85:e3:12:34:56",
    )
    assert isinstance(message["id"], int)
    assert updates[0]["timestamp"].endswith("+00:00")


pytestmark_sqlite = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


@pytestmark_sqlite
async def test_session_and_device_updates_follow_a_turn(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await report(app)
        session = await next_of(feed, "session_update")
        device = await next_of(feed, "device_update")
    assert session["data"]["message_count"] == 1
    assert device["data"]["mac"] == "a0:85:e3:12:34:56"


@pytestmark_sqlite
@pytest.mark.parametrize(
    "first_message",
    [
        '{"type":"auth","token":"wrong"}',
        '{"type":"ping"}',
        "not json",
        '{"type":"auth","username":"admin","password":"no"}',
    ],
)
async def test_without_valid_credentials_the_feed_closes_with_4401(
    app: LiveApp, first_message: str
) -> None:
    async with connect(feed_url(app.base_url, token=None)) as feed:
        await feed.send(first_message)
        with pytest.raises(ConnectionClosed) as closed:
            await feed.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401
    assert "authentication failed" in closed.value.rcvd.reason


@pytestmark_sqlite
async def test_a_wrong_query_token_closes_with_4401(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url, token="wrong")) as feed:
        with pytest.raises(ConnectionClosed) as closed:
            await feed.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4401


@pytestmark_sqlite
@pytest.mark.parametrize(
    "auth",
    ['{"type":"auth","token":"test-token"}', '{"type":"auth","username":"admin","password":"pw"}'],
)
async def test_credentials_may_come_in_the_first_message(app: LiveApp, auth: str) -> None:
    async with connect(feed_url(app.base_url, token=None)) as feed:
        await feed.send(auth)
        assert (await next_of(feed, "welcome"))["type"] == "welcome"


@pytestmark_sqlite
async def test_ping_gets_pong_and_a_bad_message_gets_an_error_without_closing(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await feed.send('{"type":"resume","since":-1}')
        error = await next_of(feed, "error")
        await feed.send('{"type":"ping"}')
        await next_of(feed, "pong")
    assert error["data"]["message"].startswith("since:")


@pytestmark_sqlite
async def test_a_subscription_filter_passes_only_its_device(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await feed.send('{"type":"subscribe","filters":{"device":"AA-BB-CC-DD-EE-01"}}')
        await next_of(feed, "subscribed")
        await report(app, mac="aa:bb:cc:dd:ee:02", content="other device")
        await report(app, mac="aa:bb:cc:dd:ee:01", content="mine")
        updates = await collect(feed, "chat_update")
    assert [u["data"]["content"] for u in updates] == ["mine"]


@pytestmark_sqlite
async def test_resume_replays_what_was_missed_then_continues_live_without_duplicates(
    app: LiveApp,
) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await report(app, content="one")
        first = (await next_of(feed, "chat_update"))["data"]["id"]
    await report(app, content="two")  # while disconnected
    await report(app, content="three")
    async with connect(feed_url(app.base_url)) as feed:
        await feed.send(f'{{"type":"resume","since":{first}}}')
        await report(app, content="four")
        updates = await collect(feed, "chat_update", quiet=1.0)
    contents = [u["data"]["content"] for u in updates]
    assert sorted(contents) == ["four", "three", "two"]
    assert contents[:2] == ["two", "three"]
    assert len({u["data"]["id"] for u in updates}) == 3


@pytestmark_sqlite
async def test_the_subscriber_after_max_subscribers_is_refused(store_url: str) -> None:
    with serving(feed_settings(store_url, max_subscribers=2)) as app:
        async with connect(feed_url(app.base_url)) as one, connect(feed_url(app.base_url)) as two:
            await next_of(one, "welcome")
            await next_of(two, "welcome")
            async with connect(feed_url(app.base_url)) as three:
                with pytest.raises(ConnectionClosed) as closed:
                    await next_of(three, "welcome")
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1013
    assert "too many subscribers (max 2)" in closed.value.rcvd.reason


@pytestmark_sqlite
async def test_metrics_count_connections_and_disconnect_reasons(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await next_of(feed, "welcome")
        async with httpx.AsyncClient() as client:
            during = (await client.get(f"{app.base_url}/metrics")).text
    await asyncio.sleep(0.2)
    async with httpx.AsyncClient() as client:
        after = (await client.get(f"{app.base_url}/metrics")).text
    assert "xiaozhi_websocket_connections" in during
    assert 'xiaozhi_websocket_disconnects_total{reason="client_closed"}' in after


@pytestmark_sqlite
async def test_a_types_filter_passes_only_those_event_types(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await feed.send('{"type":"subscribe","filters":{"types":["device_update"]}}')
        await next_of(feed, "subscribed")
        await report(app)
        kinds = {m["type"] for m in [await next_of(feed, "device_update")]}
        assert await collect(feed, "chat_update") == []
    assert kinds == {"device_update"}


async def test_a_page_of_another_origin_cannot_open_the_feed(app: LiveApp) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(feed_url(app.base_url), origin=Origin("https://evil.example")):
            pass
    assert refused.value.response.status_code == 403


async def test_the_console_page_of_the_hub_opens_the_feed(app: LiveApp) -> None:
    own = Origin(app.base_url)
    async with connect(feed_url(app.base_url), origin=own) as feed:
        assert (await next_of(feed, "welcome"))["type"] == "welcome"


async def test_an_origin_on_the_allow_list_opens_the_feed(store_url: str) -> None:
    settings = feed_settings(store_url, allowed_origins=["https://wall.example.org"])
    with serving(settings) as live:
        origin = Origin("https://wall.example.org")
        async with connect(feed_url(live.base_url), origin=origin) as feed:
            assert (await next_of(feed, "welcome"))["type"] == "welcome"


@pytestmark_sqlite
async def test_a_chat_types_filter_passes_only_those_turns(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await feed.send('{"type":"subscribe","filters":{"chat_types":[2]}}')
        await next_of(feed, "subscribed")
        await report(app, chat_type=1, content="用户说")
        await report(app, chat_type=2, content="智能体答")
        updates = await collect(feed, "chat_update")
    assert [u["data"]["content"] for u in updates] == ["智能体答"]


@pytestmark_sqlite
async def test_the_events_of_one_report_arrive_together_in_one_batch_frame(app: LiveApp) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await next_of(feed, "welcome")
        await report(app, content="一起到")
        frame = json.loads(await feed.recv())
    assert frame["type"] == "batch"
    assert [m["type"] for m in frame["events"]] == [
        "chat_update",
        "session_update",
        "device_update",
    ]
    assert frame["events"][0]["data"]["content"] == "一起到"


@pytestmark_sqlite
async def test_an_idle_subscriber_gets_each_event_at_once_in_a_frame_of_its_own(
    app: LiveApp,
) -> None:
    async with connect(feed_url(app.base_url)) as feed:
        await feed.send('{"type":"subscribe","filters":{"types":["chat_update"]}}')
        await next_of(feed, "subscribed")
        frames = []
        for n in range(3):
            await report(app, content=f"第{n}条")
            frames.append(json.loads(await feed.recv()))
    assert [(f["type"], f["data"]["content"]) for f in frames] == [
        ("chat_update", "第0条"),
        ("chat_update", "第1条"),
        ("chat_update", "第2条"),
    ]


@pytestmark_sqlite
async def test_the_feed_works_under_a_server_without_the_direct_path(store_url: str) -> None:
    def stock_protocol(config: uvicorn.Config) -> None:
        config.ws = "websockets-sansio"

    with serving(feed_settings(store_url), adjust=stock_protocol) as app:
        async with connect(feed_url(app.base_url)) as feed:
            await next_of(feed, "welcome")
            await report(app, content="经由 ASGI")
            await report(app, content="再一条")
            updates = await collect(feed, "chat_update")
    assert [u["data"]["content"] for u in updates] == ["经由 ASGI", "再一条"]


@pytestmark_sqlite
async def test_a_client_reconnecting_to_a_restarted_hub_resumes_without_a_gap(
    store_url: str,
) -> None:
    with serving(feed_settings(store_url)) as before:
        async with connect(feed_url(before.base_url)) as feed:
            await report(before, content="重启前")
            seen = (await next_of(feed, "chat_update"))["data"]["id"]
    with serving(feed_settings(store_url)) as after:
        await report(after, content="离线时")
        async with connect(feed_url(after.base_url)) as feed:
            await next_of(feed, "welcome")
            await feed.send(f'{{"type":"resume","since":{seen}}}')
            updates = []
            while (message := await receive(feed))["type"] != "resumed":
                updates.append(message)
            await report(after, content="重连后")
            updates += await collect(feed, "chat_update")
    assert [u["data"]["content"] for u in updates] == ["离线时", "重连后"]
