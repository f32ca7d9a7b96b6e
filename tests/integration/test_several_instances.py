"""Three ``serve`` processes on one MariaDB or PostgreSQL store and a real redis-server, as
behind a load balancer: reports spread over them are stored once, a client on each sees
everything, the sync fails over when its leader is killed, and a Redis restart loses no
event for anyone."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.aggregates import assert_aggregates_exact
from tests.support.core_client import encoded, report_body, report_headers
from tests.support.feed_client import Watcher, feed_url
from tests.support.instances import Instance, instance_environment, log_of, running_instances
from tests.support.servers import RedisServer
from tests.support.upstream import Upstream, generate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages

pytestmark = pytest.mark.parametrize("store_url", ["mariadb", "postgresql"], indirect=True)
REPORT = "/xiaozhi/agent/chat-history/report"
INSTANCES = 3
SYNC_INTERVAL = 3.0
# Longer than an instance keeps retrying to publish an event (then it drops it).
REDIS_DOWN_SECONDS = 10.0


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, which it may restart."""
    server = RedisServer(tmp_path)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
def hubs(store_url: str, redis_server: RedisServer, tmp_path: Path) -> Iterator[list[Instance]]:
    """Three instances on the store and Redis, the sync off."""
    env = instance_environment(store_url, redis_server.url)
    with running_instances(INSTANCES, env, tmp_path) as instances:
        yield instances


async def stored(store_url: str, *columns: Any) -> list[tuple[Any, ...]]:
    """``columns`` of every stored message, sorted."""
    store = Store(store_url)
    try:
        async with store.read() as connection:
            rows = await connection.execute(select(*columns))
            return sorted(tuple(row) for row in rows)
    finally:
        await store.close()


async def stored_ids(store_url: str) -> set[int]:
    return {row[0] for row in await stored(store_url, messages.c.id)}


async def report(client: httpx.AsyncClient, instance: Instance, body: dict[str, Any]) -> None:
    """Send one report to ``instance``; the core would retry anything but an acknowledgement."""
    answer = await client.post(
        f"{instance.base_url}{REPORT}", content=encoded(body), headers=report_headers()
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == 0, answer.text


def turns(count: int, devices: int = 3, per_session: int = 4) -> list[dict[str, Any]]:
    """``count`` reports of a few devices, each session a few turns, a millisecond apart."""
    start = int(time.time() * 1000)
    return [
        report_body(
            mac=f"A0:85:E3:00:00:{n % devices:02X}",
            session_id=f"session-{n % devices}-{n // (devices * per_session)}",
            chat_type=1 + n % 2,
            content=f"第{n}句 turn {n}",
            report_time=start + n,
        )
        for n in range(count)
    ]


async def test_reports_spread_over_every_instance_are_each_stored_once(
    hubs: list[Instance], store_url: str
) -> None:
    bodies = turns(90)
    # Each report twice, to two different instances at once: a core retrying through a
    # load balancer that picked another instance.
    pairs = itertools.pairwise(itertools.cycle(hubs))
    async with httpx.AsyncClient(timeout=60) as client:
        await asyncio.gather(
            *(
                report(client, instance, body)
                for body, pair in zip(bodies, pairs, strict=False)
                for instance in pair
            )
        )
    contents = [row[0] for row in await stored(store_url, messages.c.content)]
    assert contents == sorted(body["content"] for body in bodies), log_of(hubs)
    store = Store(store_url)
    try:
        await assert_aggregates_exact(store)
    finally:
        await store.close()


async def test_a_client_on_each_instance_sees_every_report(
    hubs: list[Instance], store_url: str
) -> None:
    async with httpx.AsyncClient(timeout=60) as client:
        watchers = [Watcher(feed_url(hub.base_url)) for hub in hubs]
        for watcher in watchers:
            await watcher.__aenter__()
        try:
            await asyncio.gather(
                *(report(client, hub, body) for hub, body in zip(itertools.cycle(hubs), turns(60)))
            )
            everything = await stored_ids(store_url)
            for watcher in watchers:
                await watcher.wait_for(everything)
        finally:
            for watcher in watchers:
                await watcher.__aexit__()
    for watcher in watchers:
        assert sorted(watcher.ids) == sorted(everything)  # each once


async def leader_among(instances: list[Instance], within: float = 60.0) -> Instance:
    """The instance whose ``xiaozhi_sync_leader`` is 1, once there is one."""
    async with asyncio.timeout(within):
        while True:
            for instance in instances:
                if await asyncio.to_thread(instance.metric, "xiaozhi_sync_leader") == 1:
                    return instance
            await asyncio.sleep(0.05)


async def upstream_rows(upstream: Upstream) -> list[tuple[Any, ...]]:
    """Every upstream chat row as the hub keys it: (id, mac, session, chat type, content)."""
    return sorted((r[0], r[1].lower(), r[2], r[3], r[4]) for r in await upstream.rows())


async def copied_rows(store_url: str) -> list[tuple[Any, ...]]:
    """The same fields of every message the hub holds (a duplicate would appear twice)."""
    columns = (messages.c.source_id, messages.c.device, messages.c.session_id)
    return await stored(store_url, *columns, messages.c.chat_type, messages.c.content)


async def test_when_the_leading_syncer_is_killed_another_instance_takes_over_within_two_intervals(
    store_url: str, redis_server: RedisServer, upstream: Upstream, tmp_path: Path
) -> None:
    total = await generate(upstream, devices=40, sessions=1500, seed=7)
    sync = {
        "XIAOZHI_SYNC_SERVICE__ENABLED": "true",
        "XIAOZHI_SYNC_SERVICE__INTERVAL": str(SYNC_INTERVAL),
        "XIAOZHI_SYNC_SERVICE__BATCH_SIZE": "10",
    }
    database = {k: v for k, v in upstream.environment(store_url).items() if "__DB__" in k}
    env = instance_environment(store_url, redis_server.url, **sync, **database)
    with running_instances(INSTANCES, env, tmp_path) as hubs:
        leader = await leader_among(hubs)
        copied_before_the_kill = len(await stored_ids(store_url))
        leader.kill()
        killed_at = time.monotonic()
        successor = await leader_among([hub for hub in hubs if hub is not leader])
        took = time.monotonic() - killed_at
        expected = await upstream_rows(upstream)
        async with asyncio.timeout(300):
            while True:
                copied = await copied_rows(store_url)
                if len(copied) >= total:
                    break
                await asyncio.sleep(0.5)
        assert successor.alive
    assert 0 < copied_before_the_kill < total, "the kill did not land mid-pass: more rows"
    assert took <= 2 * SYNC_INTERVAL, log_of(hubs)
    assert copied == expected  # nothing lost, nothing twice


async def test_after_a_redis_restart_every_client_ends_with_every_event(
    hubs: list[Instance], store_url: str, redis_server: RedisServer
) -> None:
    bodies = turns(150)
    halfway = asyncio.Event()

    async def keep_reporting(client: httpx.AsyncClient) -> None:
        for n, body in enumerate(bodies):
            await report(client, hubs[n % INSTANCES], body)
            if n == len(bodies) // 3:
                halfway.set()
            await asyncio.sleep(0.02)

    watchers = [Watcher(feed_url(hub.base_url)) for hub in hubs]
    for watcher in watchers:
        await watcher.__aenter__()
    try:
        async with httpx.AsyncClient(timeout=60) as client:
            reporting = asyncio.create_task(keep_reporting(client))
            await halfway.wait()
            await asyncio.to_thread(redis_server.stop)
            await asyncio.sleep(REDIS_DOWN_SECONDS)  # reports go on meanwhile
            await asyncio.to_thread(redis_server.start)
            await reporting
        everything = await stored_ids(store_url)
        assert len(everything) == len(bodies)
        for watcher in watchers:
            await watcher.wait_for(everything)
    finally:
        for watcher in watchers:
            await watcher.__aexit__()
    for watcher in watchers:
        assert sorted(watcher.ids) == sorted(everything)  # each once
