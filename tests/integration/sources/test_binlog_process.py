"""Binlog mode as operators run it: `xiaozhi-server sync` killed with SIGKILL while the
upstream is busy, and `serve` turning an upstream insert into a feed event."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy.exc import OperationalError

from tests.integration.sources.test_sync_process import store_rows, sync_env
from tests.support.feed_client import collect, connect, feed_url, next_of
from tests.support.live_app import serving
from tests.support.upstream import INSERT_MESSAGE, Upstream, generate, mac
from xiaozhi_server.config import Settings
from xiaozhi_server.sources.sync import SERVICE
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.sync_state import read_cursor


async def start_sync(env: dict[str, str], cwd: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "xiaozhi_server",
        "sync",
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def keep_inserting(upstream: Upstream, stop: asyncio.Event) -> None:
    """Small transactions, as devices talk, until ``stop``."""
    n = 0
    while not stop.is_set():
        await upstream.executemany(
            INSERT_MESSAGE,
            [
                (mac(n % 7), "agent0", f"busy-{n // 20}", 1 + k % 2, f"turn {n}-{k}", None,
                 f"2026-11-24 21:{n // 60 % 60:02d}:{n % 60:02d}.{k:03d}")
                for k in range(3)
            ],
        )  # fmt: skip
        n += 1
        await asyncio.sleep(0.01)


async def copied(url: str) -> list[tuple[Any, ...]]:
    """The store's rows, or none while the process has not created its tables yet."""
    try:
        return await store_rows(url)
    except OperationalError:
        return []


async def streaming(url: str) -> None:
    """Wait until the store holds a binlog position (the snapshot is done)."""
    store = Store(url)
    try:
        for _ in range(300):
            with contextlib.suppress(OperationalError):
                if "binlog" in await read_cursor(store, SERVICE):
                    return
            await asyncio.sleep(0.1)
        raise AssertionError("the sync never started streaming")
    finally:
        await store.close()


async def test_killed_while_the_upstream_is_busy_it_resumes_with_nothing_lost_or_doubled(
    binlog_upstream: Upstream, tmp_path: Path
) -> None:
    await generate(binlog_upstream, devices=20, sessions=400, seed=5)
    env = sync_env(
        tmp_path,
        binlog_upstream,
        XIAOZHI_SYNC_SERVICE__MODE="binlog",
        XIAOZHI_SYNC_SERVICE__BATCH_SIZE="20",
        XIAOZHI_SYNC_SERVICE__BINLOG_HEARTBEAT_SECONDS="1",
    )
    stop = asyncio.Event()
    writer = asyncio.create_task(keep_inserting(binlog_upstream, stop))
    rng = random.Random(7)
    for run in range(4):
        process = await start_sync(env, tmp_path)
        if run > 0:  # the first kill may land in the snapshot; later ones land in the stream
            await streaming(env["XIAOZHI_STORAGE__URL"])
        await asyncio.sleep(rng.uniform(0.2, 1.5))
        process.send_signal(signal.SIGKILL)
        assert await process.wait() == -signal.SIGKILL
    stop.set()
    await writer
    assert await copied(env["XIAOZHI_STORAGE__URL"]), "no run got far enough to copy a row"
    expected = sorted((r[0], r[1].lower(), r[2], r[3], r[4]) for r in await binlog_upstream.rows())
    process = await start_sync(env, tmp_path)
    try:
        deadline = time.monotonic() + 60
        while await copied(env["XIAOZHI_STORAGE__URL"]) != expected:
            assert time.monotonic() < deadline, "the store did not catch up after the kills"
            await asyncio.sleep(0.2)
    finally:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        await process.wait()


async def test_under_serve_a_streamed_insert_reaches_the_feed(
    store_url: str, binlog_upstream: Upstream
) -> None:
    settings = Settings.model_validate(
        {
            "storage": {"url": store_url},
            "auth": {"api_tokens": ["test-token"], "admin_password": "pw"},
            "esp32_server": {"db": binlog_upstream.db_settings()},
            "sync_service": {"enabled": True, "mode": "binlog", "interval": 60},
        }
    )
    with serving(settings) as app:
        async with connect(feed_url(app.base_url)) as feed:
            await feed.send('{"type":"subscribe","filters":{"types":["chat_update"]}}')
            await streaming(store_url)
            await binlog_upstream.executemany(
                INSERT_MESSAGE,
                [(mac(0), "agent0", "live", 1, "从binlog来的", None, "2026-11-24 20:00:00")],
            )
            first = await next_of(feed, "chat_update", within=30)
            updates = [first, *await collect(feed, "chat_update", quiet=1)]
    assert [u["data"]["content"] for u in updates] == ["从binlog来的"]
