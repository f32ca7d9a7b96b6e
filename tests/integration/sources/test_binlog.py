"""Binlog mode against a real MariaDB writing a row binlog (full and minimal row metadata):
snapshot then stream, updates, deletes, DDL, restarts, purges, drops and missing grants,
into every store."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.servers import MariaDB, user_who_may_only_read
from tests.support.stores import empty_store_url
from tests.support.tcp_proxy import stalling_proxy
from tests.support.upstream import INSERT_MESSAGE, Upstream, generate, mac
from xiaozhi_server.config import Settings
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.sources.binlog_sync import BinlogFollower
from xiaozhi_server.sources.sync import SERVICE
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.sync_state import all_sync_status, read_cursor
from xiaozhi_server.store.tables import audio, devices, messages, sessions

WAIT_SECONDS = 30.0
# Every store, and both kinds of row metadata, without every pairing of the two: SQLite
# under both, MariaDB under full metadata, PostgreSQL under MySQL 8's default (minimal).
PAIRINGS = [
    ("sqlite", "FULL"),
    ("sqlite", "MINIMAL"),
    ("mariadb", "FULL"),
    ("postgresql", "MINIMAL"),
]


@pytest.fixture(params=PAIRINGS, ids=["-".join(pairing) for pairing in PAIRINGS])
def pairing(request: pytest.FixtureRequest) -> tuple[str, str]:
    """A store kind and the row metadata of the binlog it follows."""
    paired: tuple[str, str] = request.param
    return paired


@pytest.fixture
def store_url(
    pairing: tuple[str, str], request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """An empty store of the pairing's kind."""
    with empty_store_url(pairing[0], request, tmp_path) as url:
        yield url


@pytest.fixture
def binlog_server(pairing: tuple[str, str], request: pytest.FixtureRequest) -> MariaDB:
    """The binlog-writing MariaDB with the pairing's row metadata."""
    server: MariaDB = request.getfixturevalue(f"binlog_server_{pairing[1].lower()}")
    return server


def binlog_settings(store_url: str, upstream: Upstream, **sync: Any) -> Settings:
    return Settings.model_validate(
        {
            "storage": {"url": store_url},
            "esp32_server": {"db": upstream.db_settings(), "timeout": 5},
            "sync_service": {
                "enabled": True,
                "mode": "binlog",
                "batch_size": 50,
                "interval": 0.5,
                "binlog_heartbeat_seconds": 1,
                **sync,
            },
        }
    )


class Hub:
    """A store and, while ``following``, a binlog follower feeding it."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    @contextlib.asynccontextmanager
    async def following(self, streaming: bool = True, **sync: Any) -> AsyncIterator[BinlogFollower]:
        """A follower running in the background; with ``streaming``, once its snapshot is
        stored with the binlog position it streams from."""
        settings = self.settings.model_copy(
            update={"sync_service": self.settings.sync_service.model_copy(update=sync)}
        )
        follower = BinlogFollower(settings, Ingestor(self.store, EventBus()), self.store)
        task = asyncio.create_task(follower.run_forever())
        try:
            if streaming:
                await self.until(self.has_position, "the snapshot is stored with its position")
            yield follower
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await follower.close()

    async def messages(self) -> list[dict[str, Any]]:
        async with self.store.read() as connection:
            rows = await connection.execute(select(messages).order_by(messages.c.source_id))
            return [dict(r._mapping) for r in rows]

    async def live_ids(self) -> list[int]:
        return [m["source_id"] for m in await self.messages() if not m["deleted_upstream_at"]]

    async def has_position(self) -> bool:
        return "binlog" in await read_cursor(self.store, SERVICE)

    async def status(self) -> dict[str, Any]:
        return next(r for r in await all_sync_status(self.store) if r["service_name"] == SERVICE)

    async def until(self, check: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not await check():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {WAIT_SECONDS:g}s: {what}")
            await asyncio.sleep(0.05)

    async def until_copied(self, upstream: Upstream) -> None:
        async def same() -> bool:
            return await self.live_ids() == [row[0] for row in await upstream.rows()]

        await self.until(same, "the store holds exactly the upstream's rows")


@contextlib.asynccontextmanager
async def opened_hub(store_url: str, upstream: Upstream) -> AsyncIterator[Hub]:
    """A migrated store at ``store_url`` with binlog settings for ``upstream``; closed after."""
    store = Store(store_url)
    try:
        await migrate.upgrade(store.engine)
        yield Hub(store, binlog_settings(store_url, upstream))
    finally:
        await store.close()


@pytest.fixture
async def hub(store_url: str, binlog_upstream: Upstream) -> AsyncIterator[Hub]:
    async with opened_hub(store_url, binlog_upstream) as opened:
        yield opened


async def add_turns(upstream: Upstream, count: int, session: str = "live", at_ms: int = 0) -> None:
    await upstream.executemany(
        INSERT_MESSAGE,
        [
            (mac(0), "agent0", session, 1 + n % 2, f"turn {session} {n}", None,
             f"2026-11-24 20:{n // 60 % 60:02d}:{n % 60:02d}.{at_ms:03d}")
            for n in range(count)
        ],
    )  # fmt: skip


async def test_a_first_start_snapshots_then_streams_with_no_gap_under_concurrent_inserts(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    await generate(binlog_upstream, devices=20, sessions=300)

    async def keep_inserting() -> None:
        for n in range(40):
            await add_turns(binlog_upstream, 3, session=f"during-{n}")
            await asyncio.sleep(0.02)

    async with hub.following():
        await keep_inserting()
        await hub.until_copied(binlog_upstream)
    stored = await hub.messages()
    assert len({m["natural_key"] for m in stored}) == len(stored) == await binlog_upstream.count()


async def test_after_the_snapshot_new_rows_arrive_from_the_binlog(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    await generate(binlog_upstream, devices=2, sessions=5)
    async with hub.following():
        await hub.until_copied(binlog_upstream)
        await add_turns(binlog_upstream, 4, session="after")
        await hub.until_copied(binlog_upstream)
    after = [m for m in await hub.messages() if m["session_id"] == "after"]
    assert {m["source"] for m in after} == {"binlog"}
    cursor = await read_cursor(hub.store, SERVICE)
    assert cursor["mode"] == "binlog"
    assert cursor["binlog"]["file"].startswith("binlog.")


async def test_an_update_clearing_audio_is_applied(hub: Hub, binlog_upstream: Upstream) -> None:
    await binlog_upstream.executemany(
        "INSERT INTO ai_agent_chat_audio (id, audio) VALUES (%s, %s)", [("a" * 32, b"RIFF....")]
    )
    await binlog_upstream.executemany(
        INSERT_MESSAGE, [(mac(1), "agent0", "s", 2, "hello", "a" * 32, "2026-11-24 20:00:00")]
    )
    async with hub.following():
        await hub.until_copied(binlog_upstream)
        assert (await hub.messages())[0]["audio_id"] == "a" * 32
        await binlog_upstream.execute("UPDATE ai_agent_chat_history SET audio_id = NULL")

        async def cleared() -> bool:
            return (await hub.messages())[0]["audio_id"] is None

        await hub.until(cleared, "the audio id is cleared")


async def test_audio_named_by_a_streamed_row_is_copied(hub: Hub, binlog_upstream: Upstream) -> None:
    async with hub.following():
        await binlog_upstream.executemany(
            "INSERT INTO ai_agent_chat_audio (id, audio) VALUES (%s, %s)", [("b" * 32, b"RIFFwav")]
        )
        await binlog_upstream.executemany(
            INSERT_MESSAGE, [(mac(1), "agent0", "s", 2, "hi", "b" * 32, "2026-11-24 20:00:00")]
        )
        await hub.until_copied(binlog_upstream)
    assert [row["audio_id"] for row in await _rows(hub, audio)] == ["b" * 32]


async def test_deleting_an_agent_archives_its_rows_as_they_go(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    await generate(binlog_upstream, devices=6, sessions=30)
    async with hub.following():
        await hub.until_copied(binlog_upstream)
        await binlog_upstream.execute("DELETE FROM ai_agent_chat_history WHERE agent_id = 'agent1'")
        await hub.until_copied(binlog_upstream)
    archived = [m for m in await hub.messages() if m["deleted_upstream_at"]]
    assert archived
    assert {m["agent_id"] for m in archived} == {"agent1"}


async def test_under_the_mirror_policy_deleted_rows_are_removed(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    await generate(binlog_upstream, devices=6, sessions=30)
    async with hub.following(on_delete="mirror"):
        await hub.until_copied(binlog_upstream)
        await binlog_upstream.execute("DELETE FROM ai_agent_chat_history WHERE agent_id = 'agent2'")

        async def removed() -> bool:
            return len(await hub.messages()) == await binlog_upstream.count()

        await hub.until(removed, "agent2's rows are gone from the store")


async def test_devices_and_titles_follow_as_they_change(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    await binlog_upstream.add_agent("agent0", "小智")
    await binlog_upstream.add_device("dev1", mac(1), "agent0", "kitchen")
    async with hub.following():
        await binlog_upstream.execute("UPDATE ai_device SET alias = '厨房' WHERE id = 'dev1'")
        await binlog_upstream.add_device("dev2", mac(2), "agent0", "hall")
        await add_turns(binlog_upstream, 2, session="titled")
        await binlog_upstream.add_title("titled", "天气")
        await binlog_upstream.execute("DELETE FROM ai_device WHERE id = 'dev2'")

        async def followed() -> bool:
            rows = {r["mac"]: r for r in await _rows(hub, devices)}
            titles = {r["session_id"]: r["title"] for r in await _rows(hub, sessions)}
            return (
                rows.get(mac(1).lower(), {}).get("alias") == "厨房"
                and rows.get(mac(2).lower(), {}).get("deleted_upstream_at") is not None
                and titles.get("titled") == "天气"
            )

        await hub.until(followed, "alias, unbinding and title are applied")


async def test_a_column_added_upstream_is_mapped_by_its_new_position(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    async with hub.following():
        await add_turns(binlog_upstream, 2, session="before")
        await hub.until_copied(binlog_upstream)
        await binlog_upstream.execute(
            "ALTER TABLE ai_agent_chat_history ADD COLUMN region VARCHAR(8) AFTER mac_address"
        )
        await add_turns(binlog_upstream, 2, session="after-ddl")
        await hub.until_copied(binlog_upstream)
    after = [m for m in await hub.messages() if m["session_id"] == "after-ddl"]
    assert [m["content"] for m in after] == ["turn after-ddl 0", "turn after-ddl 1"]
    assert {m["device"] for m in after} == {mac(0).lower()}


async def test_a_column_added_while_stopped_leaves_no_row_misread(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    async with hub.following():
        await add_turns(binlog_upstream, 1, session="first")
        await hub.until_copied(binlog_upstream)
    await add_turns(binlog_upstream, 2, session="old-columns")
    await binlog_upstream.execute(
        "ALTER TABLE ai_agent_chat_history ADD COLUMN region VARCHAR(8) AFTER mac_address"
    )
    await add_turns(binlog_upstream, 2, session="new-columns")
    async with hub.following():
        await hub.until_copied(binlog_upstream)
    stored = {(m["session_id"], m["device"], m["content"]) for m in await hub.messages()}
    assert stored == {
        (session, mac(0).lower(), f"turn {session} {n}")
        for session, count in (("first", 1), ("old-columns", 2), ("new-columns", 2))
        for n in range(count)
    }


async def test_a_transaction_larger_than_a_batch_arrives_whole(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    async with hub.following():
        await add_turns(binlog_upstream, 180, session="one-transaction")  # batch_size is 50
        await hub.until_copied(binlog_upstream)
    assert len(await hub.messages()) == 180


async def test_a_change_logged_as_a_statement_is_resynced_by_polling(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    async with hub.following():
        connection = await binlog_upstream.connect()
        async with connection.cursor() as cursor:
            await cursor.execute("SET SESSION binlog_format = 'STATEMENT'")
            await cursor.execute(
                INSERT_MESSAGE, (mac(0), "agent0", "s", 1, "as a statement", None, "2026-11-24")
            )
        connection.close()
        await hub.until_copied(binlog_upstream)

        async def resynced() -> bool:
            return "logged as a statement" in ((await hub.status())["error_message"] or "")

        await hub.until(resynced, "sync_status says why it re-synced")


async def test_a_malformed_streamed_row_is_skipped_with_its_reason(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    async with hub.following():
        await binlog_upstream.executemany(
            INSERT_MESSAGE,
            [
                (mac(0), "agent0", "s", 9, "no such chat type", None, "2026-11-24 20:00:00"),
                (mac(0), "agent0", "s", 1, "fine", None, "2026-11-24 20:00:01"),
            ],
        )

        async def skipped() -> bool:
            return bool((await read_cursor(hub.store, SERVICE)).get("skipped"))

        await hub.until(skipped, "the bad row is listed as skipped")
    [entry] = (await read_cursor(hub.store, SERVICE))["skipped"]
    assert "chat_type" in entry["reason"]
    assert [m["content"] for m in await hub.messages()] == ["fine"]


async def test_a_restart_resumes_from_the_stored_position(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    await generate(binlog_upstream, devices=2, sessions=10)
    async with hub.following():
        await hub.until_copied(binlog_upstream)
    await add_turns(binlog_upstream, 5, session="while-stopped")
    async with hub.following():
        await hub.until_copied(binlog_upstream)
    resumed = [m for m in await hub.messages() if m["session_id"] == "while-stopped"]
    assert {m["source"] for m in resumed} == {"binlog"}  # streamed, not re-snapshotted


async def test_a_purged_binlog_is_resynced_by_polling_and_sync_status_says_so(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    await generate(binlog_upstream, devices=2, sessions=10)
    async with hub.following():
        await hub.until_copied(binlog_upstream)
    await add_turns(binlog_upstream, 5, session="purged-gap")
    first = (await binlog_upstream.rows())[0][0]
    await binlog_upstream.execute("DELETE FROM ai_agent_chat_history WHERE id = %s", (first,))
    newest = await _purge_all_but_a_new_binlog(hub, binlog_upstream)
    async with hub.following():

        async def resynced() -> bool:
            return "resynced" in await read_cursor(hub.store, SERVICE)

        await hub.until(resynced, "the gap is re-synced")
        await hub.until_copied(binlog_upstream)
        status = await hub.status()
    assert "re-synced by polling" in status["error_message"]
    assert "purged" in status["error_message"]
    cursor = await read_cursor(hub.store, SERVICE)
    assert cursor["binlog"]["file"] == newest
    assert "resynced" in cursor


async def test_a_dropped_connection_resumes_with_nothing_lost_or_doubled(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    async with hub.following():
        await add_turns(binlog_upstream, 3, session="first")
        await hub.until_copied(binlog_upstream)
        await _kill_binlog_dumps(hub, binlog_upstream)
        await add_turns(binlog_upstream, 3, session="second")
        await hub.until_copied(binlog_upstream)
    assert len(await hub.messages()) == 6


async def test_a_stream_gone_silent_misses_its_heartbeats_and_is_reconnected(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    async with stalling_proxy(binlog_upstream.server.port) as proxy:
        db = binlog_upstream.db_settings() | {"port": proxy.port}
        hub.settings = hub.settings.model_copy(
            update={"esp32_server": hub.settings.esp32_server.model_validate({"db": db})}
        )
        async with hub.following(binlog_heartbeat_seconds=0.5):
            await add_turns(binlog_upstream, 2, session="before")
            await hub.until_copied(binlog_upstream)
            proxy.stall()
            await add_turns(binlog_upstream, 2, session="after-the-stall")
            await hub.until_copied(binlog_upstream)


async def test_an_idle_stream_stays_connected_on_its_heartbeats(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    async with hub.following():
        first = await _binlog_dumps(hub, binlog_upstream)
        before = await hub.status()
        await asyncio.sleep(4)  # four heartbeats; three missed would drop the connection
        assert await _binlog_dumps(hub, binlog_upstream) == first
        after = await hub.status()
    assert after["sync_status"] == "success"
    assert after["last_success_at"] > before["last_success_at"]  # no false "stale sync" alarm


async def test_stopping_leaves_no_reader_thread_behind(hub: Hub) -> None:
    async with hub.following():

        async def reading() -> bool:
            return bool(_reader_threads())

        await hub.until(reading, "the reader thread runs")
    assert not _reader_threads()


async def test_a_server_without_a_binlog_is_told_and_polling_takes_over(
    store_url: str, upstream: Upstream
) -> None:
    await add_turns(upstream, 2)
    async with opened_hub(store_url, upstream) as hub, hub.following(streaming=False):
        await hub.until_copied(upstream)
        status = await hub.status()
    assert status["error_message"].startswith("binlog unavailable: the upstream's binary log")


async def test_two_hubs_with_one_server_id_are_told_to_change_it(
    hub: Hub, binlog_upstream: Upstream, tmp_path: Path
) -> None:
    other_url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    async with (
        opened_hub(other_url, binlog_upstream) as other,
        hub.following(),
        other.following(streaming=False),
    ):

        async def told() -> bool:
            rows = [row for h in (hub, other) for row in await all_sync_status(h.store)]
            return any("uses server id 7400001" in (r["error_message"] or "") for r in rows)

        await hub.until(told, "one of them says the server id is taken")


async def test_a_user_without_replication_grants_is_told_and_polling_takes_over(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    await add_turns(binlog_upstream, 3)
    with user_who_may_only_read(binlog_upstream.server, binlog_upstream.database) as login:
        db = binlog_upstream.db_settings() | {"user": login[0], "password": login[1]}
        hub.settings = hub.settings.model_copy(
            update={"esp32_server": hub.settings.esp32_server.model_validate({"db": db})}
        )
        async with hub.following(streaming=False):
            await hub.until_copied(binlog_upstream)
            status = await hub.status()
    assert "lacks REPLICATION SLAVE" in status["error_message"]
    assert "polling every 0.5s instead" in status["error_message"]
    assert {m["source"] for m in await hub.messages()} == {"poll"}


async def test_without_fallback_an_unusable_binlog_is_a_failure_in_sync_status(
    hub: Hub, binlog_upstream: Upstream
) -> None:
    binlog_upstream.server.sql("SET GLOBAL binlog_format = 'STATEMENT'")
    try:
        async with hub.following(streaming=False, fallback_to_poll=False):

            async def failed() -> bool:
                rows = await all_sync_status(hub.store)
                return bool(rows) and rows[0]["sync_status"] == "failed"

            await hub.until(failed, "sync_status shows the failure")
            status = await hub.status()
        assert status["error_message"].startswith("binlog_format is STATEMENT, not ROW")
        assert await hub.messages() == []
    finally:
        binlog_upstream.server.sql("SET GLOBAL binlog_format = 'ROW'")


async def _purge_all_but_a_new_binlog(hub: Hub, upstream: Upstream) -> str:
    """Rotate the binlog and purge every older file; return the name of the one left."""
    server = upstream.server
    server.sql("FLUSH BINARY LOGS")
    newest = server.sql("SHOW MASTER STATUS").split("\t")[0]

    async def purged() -> bool:
        # MariaDB keeps a file until its binlog checkpoint is written: ask until it goes
        server.sql(f"PURGE BINARY LOGS TO '{newest}'")
        return server.sql("SHOW BINARY LOGS").split("\t")[0] == newest

    await hub.until(purged, "the older binlog files are purged")
    return newest


async def _rows(hub: Hub, table: Any) -> list[dict[str, Any]]:
    async with hub.store.read() as connection:
        return [dict(r._mapping) for r in await connection.execute(select(table))]


def _reader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "binlog-reader" and t.is_alive()]


async def _binlog_dumps(hub: Hub, upstream: Upstream) -> list[str]:
    """The server's threads sending the binlog, once the follower has one."""

    def dumps() -> list[str]:
        return upstream.server.sql(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE COMMAND LIKE 'Binlog Dump%'"
        ).split()

    async def connected() -> bool:
        return bool(dumps())

    await hub.until(connected, "the follower opens its binlog connection")
    return dumps()


async def _kill_binlog_dumps(hub: Hub, upstream: Upstream) -> None:
    """Drop the server side of every binlog connection."""
    for thread in await _binlog_dumps(hub, upstream):
        upstream.server.sql(f"KILL {thread}")
