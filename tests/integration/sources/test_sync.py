"""The pull source against a real MariaDB holding the upstream's tables, into every store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.aggregates import assert_search_index_exact
from tests.support.tcp_proxy import stalling_proxy
from tests.support.upstream import DDL, INSERT_MESSAGE, Upstream, generate, mac
from xiaozhi_server.config import Settings
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.sources.sync import SERVICE, Syncer
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.sync_state import all_sync_status
from xiaozhi_server.store.tables import agents, audio, devices, messages, sessions


def sync_settings(store_url: str, upstream: Upstream, **sync: Any) -> Settings:
    return Settings.model_validate(
        {
            "storage": {"url": store_url},
            "esp32_server": {
                "db": upstream.db_settings(),
                "timeout": 5,
            },
            "sync_service": {"enabled": True, "batch_size": 50, **sync},
        }
    )


class Hub:
    """The store and a syncer over it."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self.syncer = Syncer(settings, Ingestor(store, EventBus()), store)

    async def rows(self, table: Any = messages) -> list[dict[str, Any]]:
        async with self.store.read() as connection:
            return [dict(r._mapping) for r in await connection.execute(select(table))]

    async def status(self) -> dict[str, Any]:
        return next(r for r in await all_sync_status(self.store) if r["service_name"] == SERVICE)


@pytest.fixture
async def hub(store_url: str, upstream: Upstream) -> AsyncIterator[Hub]:
    store = Store(store_url)
    await migrate.upgrade(store.engine)
    made = Hub(store, sync_settings(store_url, upstream))
    yield made
    await made.syncer.close()
    await store.close()


async def add_turn(
    upstream: Upstream,
    content: str,
    session: str = "late",
    at: str = "2026-11-24 20:00:00.250",
    audio_id: str | None = None,
) -> None:
    await upstream.executemany(
        INSERT_MESSAGE, [(mac(0), "agent0", session, 1, content, audio_id, at)]
    )


async def test_a_first_pass_copies_messages_audio_titles_devices_and_agents(
    hub: Hub, upstream: Upstream
) -> None:
    total = await generate(upstream, devices=1500, sessions=2000)
    summary = await hub.syncer.run_pass()
    assert summary.new == total
    stored = await hub.rows()
    assert len(stored) == total
    upstream_audio = (await upstream.execute("SELECT COUNT(*) FROM ai_agent_chat_audio"))[0][0]
    assert len(await hub.rows(audio)) == upstream_audio
    assert len(await hub.rows(devices)) == 1500
    assert {a["name"] for a in await hub.rows(agents)} == {"小智", "Tutor", "故事大王"}
    titled = {s["session_id"] for s in await hub.rows(sessions) if s["title"]}
    assert titled == {
        r[0] for r in await upstream.execute("SELECT session_id FROM ai_agent_chat_title")
    }
    status = await hub.status()
    assert (status["sync_status"], status["rows_synced"]) == ("success", total)


async def test_upstream_local_times_become_utc(hub: Hub, upstream: Upstream) -> None:
    await add_turn(upstream, "八点", at="2026-11-24 20:00:00.250")
    await hub.syncer.run_pass()
    [row] = await hub.rows()
    assert row["created_at"] == datetime(2026, 11, 24, 12, 0, 0, 250000, tzinfo=UTC)
    assert (row["source"], row["device"]) == ("poll", mac(0).lower())


async def test_a_second_pass_adds_only_what_is_new(hub: Hub, upstream: Upstream) -> None:
    await generate(upstream, devices=5, sessions=20)
    await hub.syncer.run_pass()
    await add_turn(upstream, "新的一句")
    summary = await hub.syncer.run_pass()
    assert summary.new == 1
    assert len(await hub.rows()) == await upstream.count()


async def test_a_row_committed_after_a_higher_id_was_read_still_arrives(
    hub: Hub, upstream: Upstream
) -> None:
    await add_turn(upstream, "first", at="2026-11-24 20:00:00")
    slow = await upstream.connect()
    async with slow.cursor() as cursor:
        await cursor.execute("BEGIN")
        await cursor.execute(
            INSERT_MESSAGE,
            (mac(0), "agent0", "slow", 1, "long transaction", None, "2026-11-24 20:00:01"),
        )
        await add_turn(upstream, "overtook it", at="2026-11-24 20:00:02")
        await hub.syncer.run_pass()
        assert {r["content"] for r in await hub.rows()} == {"first", "overtook it"}
        await cursor.execute("COMMIT")
    slow.close()
    await hub.syncer.run_pass()
    assert {r["content"] for r in await hub.rows()} == {"first", "overtook it", "long transaction"}


async def test_an_update_upstream_arrives(hub: Hub, upstream: Upstream) -> None:
    await upstream.executemany(
        "INSERT INTO ai_agent_chat_audio (id, audio) VALUES (%s, %s)",
        [("a" * 32, b"RIFF\x00\x00\x00\x00WAVEfmt ")],
    )
    await add_turn(upstream, "with audio", audio_id="a" * 32)
    await hub.syncer.run_pass()
    assert (await hub.rows())[0]["audio_id"] == "a" * 32
    await upstream.execute(
        "UPDATE ai_agent_chat_history SET audio_id = NULL WHERE agent_id = 'agent0'"
    )
    summary = await hub.syncer.run_pass()
    assert summary.updated == 1
    assert (await hub.rows())[0]["audio_id"] is None


async def test_a_title_that_arrives_late_is_applied(hub: Hub, upstream: Upstream) -> None:
    await add_turn(upstream, "hi", session="titled-later")
    await hub.syncer.run_pass()
    await upstream.add_title("titled-later", "迟到的标题", at="2026-11-24 21:00:00")
    await hub.syncer.run_pass()
    assert [s["title"] for s in await hub.rows(sessions)] == ["迟到的标题"]


async def test_devices_follow_rebinding_renaming_and_unbinding(
    hub: Hub, upstream: Upstream
) -> None:
    await upstream.add_agent("agent0", "小智")
    await upstream.add_agent("agent1", "Tutor")
    await upstream.add_device("dev1", mac(1), "agent0", "客厅")
    await hub.syncer.run_pass()
    await upstream.execute(
        "UPDATE ai_device SET agent_id = 'agent1', alias = '书房' WHERE id = 'dev1'"
    )
    await hub.syncer.run_pass()
    [device] = await hub.rows(devices)
    assert (device["agent_id"], device["alias"], device["deleted_upstream_at"]) == (
        "agent1",
        "书房",
        None,
    )
    await upstream.execute("DELETE FROM ai_device WHERE id = 'dev1'")
    await hub.syncer.run_pass()
    [device] = await hub.rows(devices)
    assert device["deleted_upstream_at"] is not None


async def seeded_then_agent_deleted(hub: Hub, upstream: Upstream) -> int:
    await generate(upstream, devices=6, sessions=60)
    await hub.syncer.run_pass()
    deleted = (
        await upstream.execute(
            "SELECT COUNT(*) FROM ai_agent_chat_history WHERE agent_id = 'agent1'"
        )
    )[0][0]
    await upstream.execute("DELETE FROM ai_agent_chat_history WHERE agent_id = 'agent1'")
    summary = await hub.syncer.run_pass(reconcile=True)
    assert summary.deleted == deleted
    return int(deleted)


async def test_deleted_rows_are_archived_by_default(hub: Hub, upstream: Upstream) -> None:
    deleted = await seeded_then_agent_deleted(hub, upstream)
    rows = await hub.rows()
    assert len([r for r in rows if r["deleted_upstream_at"] is not None]) == deleted
    assert len(rows) == await upstream.count() + deleted


async def test_deleted_rows_are_removed_under_the_mirror_policy(
    store_url: str, upstream: Upstream
) -> None:
    store = Store(store_url)
    await migrate.upgrade(store.engine)
    hub = Hub(store, sync_settings(store_url, upstream, on_delete="mirror"))
    await seeded_then_agent_deleted(hub, upstream)
    rows = await hub.rows()
    assert len(rows) == await upstream.count()
    assert all(r["agent_id"] != "agent1" for r in rows)
    assert sum(s["message_count"] for s in await hub.rows(sessions)) == len(rows)
    assert sum(d["message_count"] for d in await hub.rows(devices)) == len(rows)
    await assert_search_index_exact(store)
    await hub.syncer.close()
    await store.close()


async def test_a_turn_captured_live_and_read_from_the_database_is_one_row(
    hub: Hub, upstream: Upstream
) -> None:
    from xiaozhi_server.domain import Batch
    from xiaozhi_server.sources.report import ReportLimits, parse_report

    body = (
        b'{"macAddress":"A0:85:E3:00:00:00","sessionId":"both","chatType":1,'
        b'"content":"\xe4\xbd\xa0\xe5\xa5\xbd","reportTime":1795996800250}'
    )
    batch: Batch = parse_report(body, ReportLimits(1000, 1000))
    await Ingestor(hub.store, EventBus()).ingest(batch)
    # manager-api stores created_at = reportTime in Asia/Shanghai local time.
    await add_turn(upstream, "你好", session="both", at="2026-11-30 08:00:00.250")
    await hub.syncer.run_pass()
    [row] = await hub.rows()
    assert (row["source"], row["source_id"]) == ("report", 1)


async def test_malformed_rows_are_skipped_with_their_reason(hub: Hub, upstream: Upstream) -> None:
    await upstream.executemany(
        INSERT_MESSAGE,
        [
            (mac(0), "agent0", None, 1, "no session", None, "2026-11-24 20:00:00"),
            (mac(0), "agent0", "s", 9, "unknown type", None, "2026-11-24 20:00:01"),
            (mac(0), "agent0", "s", 1, "fine", None, "2026-11-24 20:00:02"),
        ],
    )
    summary = await hub.syncer.run_pass()
    assert summary.skipped == 2
    assert [r["content"] for r in await hub.rows()] == ["fine"]
    status = await hub.status()
    assert "session_id" in status["cursor"]
    assert "chat_type" in status["cursor"]


async def test_an_unreachable_upstream_is_reported_and_recovery_is_automatic(
    hub: Hub, upstream: Upstream, store_url: str
) -> None:
    settings = sync_settings(store_url, upstream, interval=0.2)
    settings.esp32_server.db.database = upstream.database + "_later"
    syncer = Syncer(settings, Ingestor(hub.store, EventBus()), hub.store)
    task = asyncio.create_task(syncer.run_forever())
    try:
        status = await wait_for_status(hub, "failed")
        assert "does not exist" in status["error_message"]
        upstream.server.sql(f"CREATE DATABASE {upstream.database}_later")
        upstream.server.sql(f"USE {upstream.database}_later; " + "; ".join(DDL))
        status = await wait_for_status(hub, "success", within=30)
        assert status["error_message"] is None
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await syncer.close()
        upstream.server.sql(f"DROP DATABASE IF EXISTS {upstream.database}_later")


async def wait_for_status(hub: Hub, state: str, within: float = 15) -> dict[str, Any]:
    async with asyncio.timeout(within):
        while True:
            rows = [r for r in await all_sync_status(hub.store) if r["service_name"] == SERVICE]
            if rows and rows[0]["sync_status"] == state:
                return rows[0]
            await asyncio.sleep(0.1)


async def test_a_stalled_upstream_query_is_dropped_reported_and_retried(
    hub: Hub, upstream: Upstream, store_url: str
) -> None:
    async with stalling_proxy(upstream.server.port) as proxy:
        settings = sync_settings(store_url, upstream, interval=0.2)
        settings.esp32_server.db.port = proxy.port
        settings.esp32_server.query_timeout = 1
        syncer = Syncer(settings, Ingestor(hub.store, EventBus()), hub.store)
        task = asyncio.create_task(syncer.run_forever())
        try:
            await wait_for_status(hub, "success")
            proxy.stall()  # the open connection hears nothing more; new ones work
            status = await wait_for_status(hub, "failed")
            assert "did not answer a query within 1s" in status["error_message"]
            await add_turn(upstream, "after the stall")
            await wait_for_contents(hub, ["after the stall"])
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await syncer.close()


async def wait_for_contents(hub: Hub, contents: list[str], within: float = 15) -> None:
    async with asyncio.timeout(within):
        while True:
            if [m["content"] for m in await hub.rows()] == contents:
                return
            await asyncio.sleep(0.1)
