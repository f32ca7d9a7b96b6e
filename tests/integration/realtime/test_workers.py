"""``serve`` with ``server.workers: 2``: each worker has its own feed clients, and a report
taken by either worker reaches the clients of both, over the supervisor's local relay or,
when ``notification.redis_url`` is set, over Redis. Both workers write one SQLite store."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.integration.realtime.live_hub import REPORT
from tests.support.core_client import SECRET, encoded, report_body, report_headers
from tests.support.feed_client import collect, connect, feed_url, next_of
from tests.support.servers import free_port, stop, wait_for_port

WORKERS = 2


@contextmanager
def serve_with_workers(folder: Path, **settings: str) -> Iterator[str]:
    """``xiaozhi-server serve`` with two workers on an SQLite store; yield its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOZHI_")} | {
        "XIAOZHI_SERVER__WORKERS": str(WORKERS),
        "XIAOZHI_STORAGE__URL": f"sqlite+aiosqlite:///{folder / 'hub.db'}",
        "XIAOZHI_AUTH__REPORT_SECRET": SECRET,
        "XIAOZHI_AUTH__API_TOKENS": '["test-token"]',
        "XIAOZHI_AUTH__ADMIN_PASSWORD": "pw",
        "XIAOZHI_SERVER__LOG_LEVEL": "warning",
        **settings,
    }
    with (folder / "serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "xiaozhi_server", "serve", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, process, timeout=60)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(process)


@asynccontextmanager
async def one_client_per_worker(base_url: str) -> AsyncIterator[list[ClientConnection]]:
    """Feed clients, one on each worker. The kernel decides which worker a client gets:
    connect until every worker has one, closing the extra ones (a worker still starting
    takes its first client later)."""
    by_worker: dict[int, ClientConnection] = {}
    try:
        for _ in range(200):
            client = await connect(feed_url(base_url))
            try:
                worker = (await next_of(client, "welcome", within=30))["data"]["worker"]
            except ConnectionClosed:  # refused: a closed extra's place is not back yet
                await asyncio.sleep(0.1)
                continue
            if worker in by_worker:
                await client.close()
                continue
            by_worker[worker] = client
            if len(by_worker) == WORKERS:
                yield list(by_worker.values())
                return
        raise AssertionError(f"every client landed on workers {sorted(by_worker)}")
    finally:
        for client in by_worker.values():
            await client.close()


async def report_concurrently(base_url: str, contents: list[str]) -> None:
    """Each report on a connection of its own, all at once: both workers take some."""

    async def one(content: str) -> None:
        async with httpx.AsyncClient(base_url=base_url) as client:
            answer = await client.post(
                REPORT, content=encoded(report_body(content=content)), headers=report_headers()
            )
        assert answer.json()["code"] == 0

    await asyncio.gather(*(one(content) for content in contents))


@pytest.fixture(params=["local relay", "redis"])
def workers_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A two-worker serve, its events between workers carried by the relay or by Redis."""
    settings = {}
    if request.param == "redis":
        settings["XIAOZHI_NOTIFICATION__REDIS_URL"] = request.getfixturevalue("redis_url")
    with serve_with_workers(tmp_path, **settings) as base_url:
        yield base_url


async def test_a_report_taken_by_either_worker_reaches_the_clients_of_both(
    workers_url: str,
) -> None:
    contents = [f"工作进程 {n}" for n in range(20)]
    async with one_client_per_worker(workers_url) as clients:
        await report_concurrently(workers_url, contents)
        received = [await collect(client, "chat_update", quiet=1.5) for client in clients]
    for updates in received:
        assert sorted(u["data"]["content"] for u in updates) == sorted(contents)
    ids = [sorted(u["data"]["id"] for u in updates) for updates in received]
    assert ids[0] == ids[1]
    assert len(set(ids[0])) == len(contents)


async def test_max_subscribers_counts_the_clients_of_every_worker(tmp_path: Path) -> None:
    with serve_with_workers(tmp_path, XIAOZHI_NOTIFICATION__MAX_SUBSCRIBERS="2") as base_url:
        async with one_client_per_worker(base_url), connect(feed_url(base_url)) as third:
            with pytest.raises(ConnectionClosed) as refused:
                await next_of(third, "welcome")
    assert refused.value.rcvd is not None
    assert refused.value.rcvd.code == 1013
