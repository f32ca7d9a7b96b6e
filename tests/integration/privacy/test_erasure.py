"""Erasure on request, on SQLite and MariaDB: what goes, what stays exact, what stays out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.aggregates import assert_aggregates_exact
from tests.support.seed import AUDIO, KIDS_ROOM, LIVING_ROOM, T0, dataset
from xiaozhi_server.domain import AudioRecord, Batch, DeviceRecord, MessageRecord, TitleRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy import erasure
from xiaozhi_server.privacy.erasure import Counts, Kind, Target
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import audit, search
from xiaozhi_server.store import stats as stat_queries
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio, devices, messages, sessions


@pytest.fixture
async def ingestor(store: Store) -> Ingestor:
    """The seed data set (two devices, two agents, three sessions) written through ingest."""
    made = Ingestor(store, EventBus())
    await made.ingest(dataset())
    return made


async def rows(store: Store, table: Any) -> list[dict[str, Any]]:
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(table))]


async def target(store: Store, kind: Kind, identifier: str) -> Target:
    found = await erasure.find_target(store, kind, identifier)
    assert found is not None
    return found


def turn(device: str, session: str, text: str, at: datetime, **extra: Any) -> MessageRecord:
    return MessageRecord(device, session, 1, text, at, "report", **extra)


async def test_erasing_a_device_removes_its_messages_audio_sessions_and_row(
    store: Store, ingestor: Ingestor
) -> None:
    counts = await erasure.erase(store, await target(store, "device", "AA-BB-CC-00-00-01"))
    assert counts == Counts(sessions=2, messages=6, audio=1, audio_bytes=len(AUDIO), devices=1)
    assert {m["device"] for m in await rows(store, messages)} == {KIDS_ROOM}
    assert await rows(store, audio) == []
    assert {s["session_id"] for s in await rows(store, sessions)} == {"s-english"}
    assert [d["mac"] for d in await rows(store, devices)] == [KIDS_ROOM]
    await assert_aggregates_exact(store)


async def test_a_device_is_found_by_its_upstream_id_and_labelled_by_its_alias(
    store: Store, ingestor: Ingestor
) -> None:
    assert await erasure.find_target(store, "device", "dev-1") == Target(
        "device", LIVING_ROOM, "客厅小智"
    )
    assert await erasure.find_target(store, "device", "dev-404") is None


async def test_erasing_a_session_keeps_its_device_with_exact_counts_and_times(
    store: Store, ingestor: Ingestor
) -> None:
    counts = await erasure.erase(store, await target(store, "session", "s-music"))
    assert (counts.sessions, counts.messages, counts.audio, counts.devices) == (1, 2, 0, 0)
    [living_room] = [d for d in await rows(store, devices) if d["mac"] == LIVING_ROOM]
    assert (living_room["message_count"], living_room["session_count"]) == (4, 1)
    assert living_room["last_seen_at"] == T0 + timedelta(seconds=3)
    await assert_aggregates_exact(store)


async def test_erasing_an_agent_also_takes_turns_its_devices_reported_without_an_agent(
    store: Store, ingestor: Ingestor
) -> None:
    await ingestor.ingest(Batch(messages=[turn(LIVING_ROOM, "s-live", "没有智能体", T0)]))
    counts = await erasure.erase(store, await target(store, "agent", "agent-zh"))
    assert (counts.sessions, counts.messages) == (3, 7)
    assert {m["device"] for m in await rows(store, messages)} == {KIDS_ROOM}
    # the agent's name and settings are configuration, not history: they stay
    assert await erasure.find_target(store, "agent", "agent-zh") == Target(
        "agent", "agent-zh", "小智助手"
    )
    await assert_aggregates_exact(store)


async def test_the_preview_counts_what_the_erasure_then_removes(
    store: Store, ingestor: Ingestor
) -> None:
    device = await target(store, "device", LIVING_ROOM)
    preview = await erasure.preview(store, device)
    assert preview == await erasure.erase(store, device)
    assert await rows(store, messages) != []


async def test_erased_messages_are_no_longer_found_by_search_or_counted_in_statistics(
    store: Store, ingestor: Ingestor
) -> None:
    await erasure.erase(store, await target(store, "session", "s-weather"))
    assert await search.search_messages(store, "天气", 10) == []
    per_device = await stat_queries.totals_by(store, "device", T0, T0 + timedelta(days=7))
    assert {b["key"]: b["messages"] for b in per_device} == {LIVING_ROOM: 2, KIDS_ROOM: 2}


async def test_a_small_batch_size_still_erases_everything(store: Store, ingestor: Ingestor) -> None:
    counts = await erasure.erase(store, await target(store, "device", LIVING_ROOM), batch_size=2)
    assert counts.messages == 6
    await assert_aggregates_exact(store)


async def test_an_old_turn_retried_after_the_erasure_is_not_stored_again(
    store: Store, ingestor: Ingestor
) -> None:
    await erasure.erase(store, await target(store, "device", LIVING_ROOM))
    again = dataset()
    result = await ingestor.ingest(again)
    assert {m["device"] for m in await rows(store, messages)} == {KIDS_ROOM}
    assert result.withheld == 6
    assert await rows(store, audio) == []
    assert LIVING_ROOM not in {d["mac"] for d in await rows(store, devices)}
    assert {s["session_id"] for s in await rows(store, sessions)} == {"s-english"}


async def test_a_new_turn_after_the_erasure_is_stored_and_brings_the_device_back(
    store: Store, ingestor: Ingestor
) -> None:
    await erasure.erase(store, await target(store, "device", LIVING_ROOM))
    later = datetime.now(UTC) + timedelta(seconds=1)
    await ingestor.ingest(Batch(messages=[turn(LIVING_ROOM, "s-new", "又见面了", later)]))
    await ingestor.ingest(Batch(devices=[DeviceRecord(LIVING_ROOM, alias="客厅小智")]))
    assert [m["content"] for m in await rows(store, messages) if m["device"] == LIVING_ROOM] == [
        "又见面了"
    ]
    [device] = [d for d in await rows(store, devices) if d["mac"] == LIVING_ROOM]
    assert (device["alias"], device["message_count"]) == ("客厅小智", 1)
    await assert_aggregates_exact(store)


async def test_a_late_title_does_not_bring_an_erased_session_back(
    store: Store, ingestor: Ingestor
) -> None:
    await erasure.erase(store, await target(store, "device", LIVING_ROOM))
    await ingestor.ingest(Batch(titles=[TitleRecord("s-weather", "深圳天气")]))
    assert {s["session_id"] for s in await rows(store, sessions)} == {"s-english"}


async def test_audio_of_an_erased_turn_is_not_written_again(
    store: Store, ingestor: Ingestor
) -> None:
    await erasure.erase(store, await target(store, "session", "s-weather"))
    old = turn(LIVING_ROOM, "s-weather", "今天深圳晴，22度。", T0, audio_id="audio-1")
    await ingestor.ingest(Batch(messages=[old], audio=[AudioRecord("audio-1", AUDIO)]))
    assert await rows(store, audio) == []


async def test_erasing_twice_finds_nothing_more_and_keeps_the_tombstone(
    store: Store, ingestor: Ingestor
) -> None:
    session = await target(store, "session", "s-music")
    await erasure.erase(store, session)
    assert await erasure.erase(store, session) == Counts()
    await ingestor.ingest(dataset())
    assert "s-music" not in {s["session_id"] for s in await rows(store, sessions)}


async def test_the_audit_entry_names_the_target_and_counts_but_no_content(
    store: Store, ingestor: Ingestor
) -> None:
    device = await target(store, "device", LIVING_ROOM)
    await erasure.erase_and_record(store, device, "admin", "user", "127.0.0.1")
    [entry] = await audit.entries(store, 10, action="erase")
    assert (entry["actor"], entry["target"], entry["address"]) == (
        "admin",
        f"device {LIVING_ROOM}",
        "127.0.0.1",
    )
    assert entry["detail"]["messages"] == 6
    assert "天气" not in str(entry)
    assert "客厅" not in str(entry)
