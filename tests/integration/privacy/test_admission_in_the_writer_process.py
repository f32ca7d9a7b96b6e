"""Privacy where SQLite's writer is a process of its own (what `serve` and `sync` use): the
batch crosses as prepared rows, admission thins it there, and the caller still publishes
exactly what was stored; a bulk re-copy of the upstream keeps an erased device out; erasure
and retention, whose units of work carry conditions on the store's tables, run there too."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.privacy.test_retention import HALL, STUDY, ages, history, policy
from tests.integration.privacy.test_sync_obeys_privacy import (
    erase_device,
    forget_sync_position,
    held,
    settings,
)
from tests.support.aggregates import assert_aggregates_exact
from tests.support.seed import AUDIO, KIDS_ROOM, LIVING_ROOM, T0, dataset
from tests.support.upstream import Upstream, generate, mac
from xiaozhi_server.config import CaptureSettings, RetentionSettings
from xiaozhi_server.domain import AudioRecord, Batch, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy import erasure
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.privacy.retention import run_pass
from xiaozhi_server.realtime.bus import Event, EventBus
from xiaozhi_server.sources.sync import Syncer
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio, messages


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    """A migrated SQLite store written by a writer process."""
    opened = Store(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", writer_process=True)
    await migrate.upgrade(opened.engine)
    yield opened
    await opened.close()


async def rows(store: Store, table: Any) -> list[dict[str, Any]]:
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(table))]


async def erase_session(store: Store, session_id: str) -> None:
    target = await erasure.find_target(store, "session", session_id)
    assert target is not None
    await erasure.erase(store, target)


def turn(device: str, session: str, text: str, **extra: Any) -> MessageRecord:
    return MessageRecord(device, session, 2, text, T0 + timedelta(minutes=5), "report", **extra)


async def test_events_of_a_thinned_batch_carry_exactly_the_rows_stored(store: Store) -> None:
    policy = DataPolicy.from_settings(
        RetentionSettings(), CaptureSettings(store_audio_agents={"agent-quiet": False})
    )
    bus = EventBus()
    ingestor = Ingestor(store, bus, policy)
    await ingestor.ingest(dataset())
    await erase_session(store, "s-weather")
    subscription = bus.subscribe()
    batch = Batch(
        messages=[
            turn(LIVING_ROOM, "s-weather", "被擦除的会话里的旧话"),
            turn(KIDS_ROOM, "s-quiet", "不录音的智能体", agent_id="agent-quiet", audio_id="q-1"),
            turn(KIDS_ROOM, "s-loud", "录音的智能体", agent_id="agent-loud", audio_id="l-1"),
        ],
        audio=[AudioRecord("q-1", AUDIO), AudioRecord("l-1", AUDIO)],
    )
    result = await ingestor.ingest(batch)
    subscription.close()
    events: list[Event] = [event async for event in subscription]
    published = [e.data for e in events if e.type == "chat_update"]
    assert result.withheld == 1
    assert [(m["content"], m["audio_id"]) for m in published] == [
        ("不录音的智能体", None),
        ("录音的智能体", "l-1"),
    ]
    stored = {m["id"]: (m["content"], m["audio_id"]) for m in await rows(store, messages)}
    assert {m["id"]: (m["content"], m["audio_id"]) for m in published}.items() <= stored.items()
    assert {a["audio_id"] for a in await rows(store, audio)} >= {"l-1"}
    assert "q-1" not in {a["audio_id"] for a in await rows(store, audio)}


async def test_every_copy_of_an_erased_turn_in_one_batch_counts_as_withheld(store: Store) -> None:
    ingestor = Ingestor(store, None)
    await ingestor.ingest(dataset())
    await erase_session(store, "s-weather")
    old = turn(LIVING_ROOM, "s-weather", "被擦除的会话里的旧话")
    result = await ingestor.ingest(Batch(messages=[old, replace(old), replace(old)]))
    assert (result.withheld, result.duplicates, result.inserted) == (3, 0, 0)


async def test_a_bulk_re_copy_never_brings_an_erased_device_back(
    store: Store, upstream: Upstream
) -> None:
    await generate(upstream, devices=3, sessions=60)
    url = f"sqlite+aiosqlite:///{store.engine.url.database}"
    # pages of 500: search terms are computed before a page crosses, the next page is read
    # while one is written (the first copy's bulk path)
    syncer = Syncer(settings(url, upstream, batch_size=500), Ingestor(store, None), store)
    try:
        await syncer.run_pass(reconcile=True)
        assert (await held(store))["messages"] > 0
        await erase_device(store)
        await forget_sync_position(store)
        await syncer.run_pass(reconcile=True)
        assert await held(store) == {"messages": 0, "sessions": 0, "devices": 0, "audio": 0}
        assert (await held(store, mac(0).lower()))["messages"] > 0
    finally:
        await syncer.close()


async def test_a_turn_after_an_erasure_is_stored_through_the_writer_process(
    store: Store,
) -> None:
    ingestor = Ingestor(store, None)
    await ingestor.ingest(dataset())
    await erase_session(store, "s-weather")
    later = MessageRecord(
        LIVING_ROOM, "s-weather", 1, "擦除之后", datetime.now(UTC) + timedelta(seconds=1), "report"
    )
    result = await ingestor.ingest(Batch(messages=[later]))
    assert (result.inserted, result.withheld) == (1, 0)


async def test_a_retention_pass_with_device_and_agent_rules_deletes_what_is_due(
    store: Store,
) -> None:
    await Ingestor(store, None).ingest(history())
    rules = policy(agents={"a1": {"messages_days": 30}}, devices={HALL: {"messages_days": 5}})
    await run_pass(store, rules)
    assert await ages(store) == {(HALL, "1d"), (STUDY, "100d"), (STUDY, "10d"), (STUDY, "1d")}
    await assert_aggregates_exact(store)
