"""A client that stops reading (a frozen tab, a dead wall display): events that queue for
it leave together once it reads again; it never holds the others back; once more than
``notification.queue_size`` events wait for it, it is closed with 4408 and can resume
from the last id it saw without a gap."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from tests.integration.realtime.live_hub import feed_settings, report
from tests.support.feed_client import Message, collect, connect, feed_url, messages_in, next_of
from tests.support.live_app import LiveApp, serving
from tests.support.stalled_client import StalledClient

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

# ~180 KB per chat_update: two fill what the server lets the kernel hold for one client.
BIG = "长" * 60_000
QUEUED = [f"排队 {n}" for n in range(5)]


@pytest.fixture
def app(store_url: str) -> Iterator[LiveApp]:
    with serving(feed_settings(store_url, queue_size=5)) as live:
        yield live


@asynccontextmanager
async def stalled(app: LiveApp) -> AsyncIterator[StalledClient]:
    client = StalledClient(feed_url(app.base_url))
    await client.open()
    try:
        yield client
    finally:
        client.close()


async def fill_then_queue(app: LiveApp) -> None:
    """Big turns until nothing more fits, then small ones that must wait."""
    for n in range(3):
        await report(app, content=f"{BIG}{n}")
    for content in QUEUED:
        await report(app, content=content)


def contents(messages: list[Message]) -> list[Any]:
    return [m["data"]["content"] for m in messages if m["type"] == "chat_update"]


async def test_events_queued_behind_an_unfinished_frame_leave_in_one_frame(
    store_url: str,
) -> None:
    with serving(feed_settings(store_url)) as app:
        async with stalled(app) as slow:
            await fill_then_queue(app)
            received = await slow.read_all()
            frames = [messages_in(text) for text in slow.frames]
    assert contents(received) == [f"{BIG}{n}" for n in range(3)] + QUEUED
    [frame] = [frame for frame in frames if QUEUED[0] in contents(frame)]
    assert contents(frame)[-len(QUEUED) :] == QUEUED


async def test_a_client_that_stops_reading_is_closed_with_4408_once_its_queue_is_full(
    app: LiveApp,
) -> None:
    async with stalled(app) as slow:
        await fill_then_queue(app)
        received = await slow.read_all()
    assert slow.close_code == 4408
    assert "too slow: more than 5 events waiting" in slow.close_reason
    assert QUEUED[-1] not in contents(received)


async def test_a_stalled_client_does_not_hold_back_the_others(app: LiveApp) -> None:
    async with stalled(app), connect(feed_url(app.base_url)) as healthy:
        await next_of(healthy, "welcome")
        await fill_then_queue(app)
        updates = await collect(healthy, "chat_update")
    assert contents(updates) == [f"{BIG}{n}" for n in range(3)] + QUEUED


async def test_after_the_4408_close_resume_from_the_last_id_seen_fills_the_gap(
    app: LiveApp,
) -> None:
    async with stalled(app) as slow:
        await fill_then_queue(app)
        before = [m for m in await slow.read_all() if m["type"] == "chat_update"]
    async with connect(feed_url(app.base_url)) as again:
        await next_of(again, "welcome")
        await again.send(f'{{"type":"resume","since":{before[-1]["data"]["id"]}}}')
        after = await collect(again, "chat_update")
    assert contents(before + after) == [f"{BIG}{n}" for n in range(3)] + QUEUED
    ids = [m["data"]["id"] for m in before + after]
    assert ids == sorted(set(ids))
