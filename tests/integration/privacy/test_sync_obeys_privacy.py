"""The pull source against a real upstream MariaDB obeys the privacy rules: an erased
device stays erased while the upstream still has it (poll and binlog modes), a re-copy does
not refill what retention deleted, and no audio is written when audio is off."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select

from tests.support.upstream import INSERT_MESSAGE, Upstream, generate, mac
from xiaozhi_server.config import CaptureSettings, RetentionSettings, Settings
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy import erasure
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.privacy.retention import run_pass
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.sources.binlog_sync import BinlogFollower
from xiaozhi_server.sources.sync import Syncer
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio, devices, messages, sessions, sync_status

ERASED = mac(1).lower()
WAIT_SECONDS = 30.0
SHANGHAI = ZoneInfo("Asia/Shanghai")


def settings(store_url: str, upstream: Upstream, **sync: Any) -> Settings:
    return Settings.model_validate(
        {
            "storage": {"url": store_url},
            "esp32_server": {"db": upstream.db_settings(), "timeout": 5},
            "sync_service": {"enabled": True, "batch_size": 50, **sync},
        }
    )


async def held(store: Store, device: str = ERASED) -> dict[str, int]:
    """How many messages, sessions, device rows and audio clips the store has of ``device``."""
    async with store.read() as connection:
        found = {
            "messages": (await connection.execute(
                select(messages.c.id).where(messages.c.device == device))).all(),
            "sessions": (await connection.execute(
                select(sessions.c.session_id).where(sessions.c.device == device))).all(),
            "devices": (await connection.execute(
                select(devices.c.mac).where(devices.c.mac == device))).all(),
            "audio": (await connection.execute(
                select(audio.c.audio_id).join(messages, messages.c.audio_id == audio.c.audio_id)
                .where(messages.c.device == device))).all(),
        }  # fmt: skip
    return {kind: len(rows) for kind, rows in found.items()}


async def erase_device(store: Store) -> None:
    target = await erasure.find_target(store, "device", ERASED)
    assert target is not None
    await erasure.erase(store, target)


async def forget_sync_position(store: Store) -> None:
    """As if the hub started over: the next pass (or snapshot) reads the whole upstream."""
    async with store.write() as connection:
        await connection.execute(delete(sync_status))


async def titled_sessions(upstream: Upstream) -> list[str]:
    rows = await upstream.execute(
        "SELECT DISTINCT session_id FROM ai_agent_chat_history WHERE mac_address = %s", [mac(1)]
    )
    return [row[0] for row in rows]


def upstream_time(moment: datetime) -> str:
    """A time as the upstream's naive local DATETIME(3)."""
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


async def add_turn(upstream: Upstream, device: str, session: str, text: str, at: datetime) -> None:
    row = (device, "agent1", session, 1, text, None, upstream_time(at))
    await upstream.executemany(INSERT_MESSAGE, [row])


async def touch_erased_rows(upstream: Upstream) -> None:
    """Change every erased row upstream (as clearing audio does), so a sync re-reads it,
    and give its sessions titles again."""
    await upstream.execute(
        "UPDATE ai_agent_chat_history SET audio_id = NULL, updated_at = NOW(3)"
        " WHERE mac_address = %s",
        [mac(1)],
    )
    for session in await titled_sessions(upstream):
        await upstream.add_title(session, "又一个标题", at=upstream_time(datetime.now(SHANGHAI)))


@pytest.mark.parametrize("store_url", ["sqlite", "mariadb"], indirect=True)
async def test_poll_mode_never_brings_an_erased_device_back(
    store_url: str, store: Store, upstream: Upstream
) -> None:
    await generate(upstream, devices=3, sessions=60)
    syncer = Syncer(settings(store_url, upstream), Ingestor(store, EventBus()), store)
    try:
        await syncer.run_pass(reconcile=True)
        assert (await held(store))["messages"] > 0
        await erase_device(store)
        await touch_erased_rows(upstream)
        await syncer.run_pass(reconcile=True)
        await forget_sync_position(store)
        await syncer.run_pass(reconcile=True)
        assert await held(store) == {"messages": 0, "sessions": 0, "devices": 0, "audio": 0}
        assert (await held(store, mac(0).lower()))["messages"] > 0
        later = datetime.now(SHANGHAI) + timedelta(seconds=1)
        await add_turn(upstream, mac(1), "after-erasure", "擦除之后的新对话", later)
        await syncer.run_pass()
        assert await held(store) == {"messages": 1, "sessions": 1, "devices": 1, "audio": 0}
    finally:
        await syncer.close()


class Following:
    """A binlog follower running in the background over ``store``."""

    def __init__(self, store: Store, config: Settings) -> None:
        self.store = store
        self.follower = BinlogFollower(config, Ingestor(store, EventBus()), store)

    async def until(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {WAIT_SECONDS:g}s: {what}")
            await asyncio.sleep(0.05)

    async def until_marker(self, upstream: Upstream, name: str) -> None:
        """Insert a turn for another device and wait until it is stored: every change the
        upstream logged before it has been applied by then."""
        await add_turn(upstream, mac(0), name, name, datetime.now(SHANGHAI))

        async def arrived() -> bool:
            async with self.store.read() as connection:
                query = select(messages.c.id).where(messages.c.session_id == name)
                return (await connection.execute(query)).first() is not None

        await self.until(arrived, f"marker {name} is stored")


@contextlib.asynccontextmanager
async def following(store: Store, config: Settings) -> AsyncIterator[Following]:
    running = Following(store, config)
    task = asyncio.create_task(running.follower.run_forever())
    try:
        yield running
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await running.follower.close()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_binlog_mode_never_brings_an_erased_device_back(
    store_url: str, store: Store, binlog_upstream: Upstream
) -> None:
    await generate(binlog_upstream, devices=3, sessions=60)
    config = settings(
        store_url, binlog_upstream, mode="binlog", interval=0.5, binlog_heartbeat_seconds=1
    )
    async with following(store, config) as hub:
        await hub.until_marker(binlog_upstream, "marker-copied")
        assert (await held(store))["messages"] > 0
        await erase_device(store)
        await touch_erased_rows(binlog_upstream)
        await hub.until_marker(binlog_upstream, "marker-streamed")
        assert await held(store) == {"messages": 0, "sessions": 0, "devices": 0, "audio": 0}
    await forget_sync_position(store)
    async with following(store, config) as hub:
        await hub.until_marker(binlog_upstream, "marker-snapshot")
        assert await held(store) == {"messages": 0, "sessions": 0, "devices": 0, "audio": 0}
        later = datetime.now(SHANGHAI) + timedelta(seconds=1)
        await add_turn(binlog_upstream, mac(1), "after-erasure", "擦除之后", later)

        async def came() -> bool:
            return (await held(store))["messages"] == 1

        await hub.until(came, "the turn after the erasure is stored")


def ingestor(store: Store, **rules: Any) -> Ingestor:
    policy = DataPolicy.from_settings(
        RetentionSettings.model_validate(rules.get("retention", {})),
        CaptureSettings.model_validate(rules.get("capture", {})),
    )
    return Ingestor(store, EventBus(), policy)


async def stored_messages(store: Store) -> int:
    async with store.read() as connection:
        return len((await connection.execute(select(messages.c.id))).all())


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_full_re_copy_does_not_refill_what_retention_deleted(
    store_url: str, store: Store, upstream: Upstream
) -> None:
    await generate(upstream, devices=3, sessions=40)
    recent = datetime.now(SHANGHAI) - timedelta(hours=1)
    await add_turn(upstream, mac(0), "recent", "一小时前", recent)
    config = settings(store_url, upstream)
    syncer = Syncer(config, ingestor(store), store)
    try:
        await syncer.run_pass()
        assert await stored_messages(store) == await upstream.count()
    finally:
        await syncer.close()
    await run_pass(
        store, DataPolicy.from_settings(RetentionSettings(messages_days=2), CaptureSettings())
    )
    await forget_sync_position(store)
    syncer = Syncer(config, ingestor(store, retention={"messages_days": 2}), store)
    try:
        await syncer.run_pass(reconcile=True)
    finally:
        await syncer.close()
    assert await stored_messages(store) == 1


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_sync_writes_no_audio_when_audio_is_off(
    store_url: str, store: Store, upstream: Upstream
) -> None:
    await generate(upstream, devices=3, sessions=60)
    assert (await upstream.execute("SELECT COUNT(*) FROM ai_agent_chat_audio"))[0][0] > 0
    off = ingestor(store, capture={"store_audio": False})
    syncer = Syncer(settings(store_url, upstream), off, store)
    try:
        await syncer.run_pass()
    finally:
        await syncer.close()
    assert await stored_messages(store) == await upstream.count()
    async with store.read() as connection:
        assert (await connection.execute(select(audio.c.audio_id))).all() == []
        with_audio = select(messages.c.id).where(messages.c.audio_id.is_not(None))
        assert (await connection.execute(with_audio)).all() == []
