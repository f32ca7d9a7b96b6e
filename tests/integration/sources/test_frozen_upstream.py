"""A frozen upstream (its mariadbd stopped by SIGSTOP, as a hung host looks: connections stay
open, nothing answers, no error ever comes) is reported as stalled within a bounded time, in
both sync modes, and the sync recovers by itself once the server runs again.

The server is this module's own: freezing one that other tests share would stall them too.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.sources.test_sync_process import store_rows
from tests.support.live_app import LiveApp, serving
from tests.support.servers import MariaDB, frozen, running_mariadb
from tests.support.upstream import INSERT_MESSAGE, Upstream, mac, upstream_database
from xiaozhi_server.config import Esp32ServerSettings, Settings
from xiaozhi_server.sources.upstream_connection import UpstreamStalled
from xiaozhi_server.sources.upstream_db import UpstreamDatabase

TOKEN = "test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
STALL_SECONDS = 1.0
WITHIN = 120.0  # generous: the machine may be busy; detection itself takes a few seconds


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A MariaDB for this module alone, writing a row binlog (so both modes can follow it)."""
    options = ("--log-bin=binlog", "--binlog-format=ROW", "--server-id=1")
    with running_mariadb(tmp_path_factory.mktemp("frozen-mariadb"), *options) as server:
        yield server


@pytest.fixture
def upstream(own_server: MariaDB) -> Iterator[Upstream]:
    """A fresh upstream database on this module's server."""
    with upstream_database(own_server) as made:
        yield made


def hub_settings(tmp_path: Path, upstream: Upstream, mode: str) -> Settings:
    return Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
            "auth": {"api_tokens": [TOKEN], "admin_password": "pw"},
            "esp32_server": {"db": upstream.db_settings(), "timeout": 5},
            "sync_service": {
                "enabled": True,
                "mode": mode,
                "interval": 0.5,
                "stall_timeout": STALL_SECONDS,
                "binlog_heartbeat_seconds": 1,
                "binlog_server_id": random.randint(1000, 2**31),  # a fresh replica each test
            },
        }
    )


def turns(label: str, count: int) -> list[tuple[Any, ...]]:
    return [
        (mac(1), "agent0", f"frozen-{label}", 1 + n % 2, f"{label} {n}", None,
         f"2026-11-24 20:00:{n:02d}")
        for n in range(count)
    ]  # fmt: skip


async def until(check: Callable[[], Awaitable[Any]], what: str) -> Any:
    """Poll ``check`` until it returns something true; fail after ``WITHIN`` seconds."""
    deadline = time.monotonic() + WITHIN
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not within {WITHIN:g}s"
        await asyncio.sleep(0.2)


async def sync_row(app: LiveApp) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        items = (await client.get(f"{app.base_url}/api/v2/sync/status", headers=ADMIN)).json()
    return dict(items["items"][0]) if items["items"] else {}


async def readiness(app: LiveApp) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        body: dict[str, Any] = (await client.get(f"{app.base_url}/readyz", headers=ADMIN)).json()
    return body


async def lag(app: LiveApp) -> float:
    async with httpx.AsyncClient(timeout=30) as client:
        text = (await client.get(f"{app.base_url}/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("xiaozhi_sync_lag_seconds{"))
    return float(line.split()[-1])


async def synced(app: LiveApp) -> bool:
    return (await sync_row(app)).get("sync_status") == "success"


async def settled(app: LiveApp, mode: str) -> None:
    """Wait until the sync works as it will go on: two successes of ``mode`` written apart
    (two passes; in binlog mode the end of the snapshot, then the stream's first commit)."""
    seen: set[str] = set()

    async def again() -> bool:
        row = await sync_row(app)
        if row.get("sync_status") == "success" and json.loads(row["cursor"])["mode"] == mode:
            seen.add(row["last_sync_time"])
        return len(seen) >= 2

    await until(again, "the sync settling")


async def stalled(app: LiveApp) -> dict[str, Any] | None:
    row = await sync_row(app)
    return row if row.get("sync_status") == "failed" else None


def modes() -> pytest.MarkDecorator:
    return pytest.mark.parametrize("mode", ["poll", "binlog"])


async def test_a_query_to_a_frozen_upstream_fails_as_stalled(
    own_server: MariaDB, upstream: Upstream
) -> None:
    database = UpstreamDatabase(
        Esp32ServerSettings.model_validate({"db": upstream.db_settings()}), STALL_SECONDS
    )
    await database.ping()  # the connection is open before the freeze
    try:
        with frozen(own_server), pytest.raises(UpstreamStalled, match="stalled"):
            await database.audio(["a1b2c3"])  # read by id, as a streamed message's audio is
    finally:
        await database.close()


async def test_connecting_to_a_frozen_upstream_fails_as_stalled(
    own_server: MariaDB, upstream: Upstream
) -> None:
    database = UpstreamDatabase(
        Esp32ServerSettings.model_validate({"db": upstream.db_settings()}), STALL_SECONDS
    )
    try:
        with frozen(own_server), pytest.raises(UpstreamStalled, match="stalled"):
            await database.messages_by_id([1, 2, 3])
    finally:
        await database.close()


@modes()
async def test_a_frozen_upstream_is_reported_degraded_with_the_stall(
    mode: str,
    own_server: MariaDB,
    upstream: Upstream,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await upstream.executemany(INSERT_MESSAGE, turns("before", 3))
    with serving(hub_settings(tmp_path, upstream, mode)) as app:
        await settled(app, mode)
        with caplog.at_level(logging.WARNING), frozen(own_server):
            row = await until(lambda: stalled(app), "the stall reported in sync_status")
            ready = await readiness(app)
            first = await lag(app)
            later = await until(
                lambda: _above(lag(app), first), "the lag growing while the upstream is frozen"
            )
    assert "stall" in row["error_message"]
    assert ready["status"] == "degraded"
    assert ready["components"]["upstream"]["state"] == "degraded"
    assert "stall" in ready["components"]["upstream"]["error"]
    assert later > first
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("stall" in message for message in warnings)


@modes()
async def test_after_a_freeze_the_sync_recovers_and_rows_arrive_once(
    mode: str, own_server: MariaDB, upstream: Upstream, tmp_path: Path
) -> None:
    await upstream.executemany(INSERT_MESSAGE, turns("before", 3))
    settings = hub_settings(tmp_path, upstream, mode)
    with serving(settings) as app:
        await settled(app, mode)
        with frozen(own_server):
            await until(lambda: stalled(app), "the stall reported in sync_status")
            # an insert sent meanwhile: it waits on the frozen server and commits after it
            meanwhile = asyncio.create_task(
                upstream.executemany(INSERT_MESSAGE, turns("during", 4))
            )
            await asyncio.sleep(0.5)
        await meanwhile
        await upstream.executemany(INSERT_MESSAGE, turns("after", 2))
        expected = sorted((r[0], r[1].lower(), r[2], r[3], r[4]) for r in await upstream.rows())
        url = settings.storage.url
        await until(lambda: _equal(store_rows(url), expected), "every row copied once")
        await until(lambda: synced(app), "the sync reported healthy again")
        ready = await readiness(app)
    assert ready["status"] == "ready"
    assert ready["components"]["upstream"]["state"] == "ready"


async def _above(value: Awaitable[float], floor: float) -> float | None:
    current = await value
    return current if current > floor else None


async def _equal(value: Awaitable[list[Any]], expected: list[Any]) -> bool:
    return await value == expected
