"""The one write path, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from xiaozhi_server.domain import (
    AgentRecord,
    AudioRecord,
    Batch,
    DeviceRecord,
    MessageRecord,
    TitleRecord,
)
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import Event, EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio, devices, messages, sessions, tables_on

T0 = datetime(2026, 11, 24, 8, 30, 0, 123000, tzinfo=UTC)
MAC = "a0:85:e3:00:00:01"


def turn(content: str, seconds: float = 0, chat_type: int = 1, **extra: Any) -> MessageRecord:
    fields: dict[str, Any] = {
        "device": MAC,
        "session_id": "session-1",
        "chat_type": chat_type,
        "content": content,
        "created_at": T0 + timedelta(seconds=seconds),
        "source": "test",
    }
    return MessageRecord(**(fields | extra))


def conversation() -> Batch:
    return Batch(
        messages=[
            turn("你好，小智 😀", 0, 1, agent_id="agent-1"),
            turn("你好！有什么可以帮你？", 1.5, 2, agent_id="agent-1", audio_id="audio-1"),
            turn('[{"type":"tool","text":"get_weather({})"}]', 2, 3, agent_id="agent-1"),
        ],
        audio=[AudioRecord("audio-1", b"RIFF....WAVEfmt ")],
        devices=[DeviceRecord(MAC, alias="客厅", board="esp-box-3")],
        agents=[AgentRecord("agent-1", "小智助手", 2)],
        titles=[TitleRecord("session-1", "打招呼")],
    )


async def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    async with store.read() as connection:
        return {
            table.name: sorted(tuple(row) for row in await connection.execute(select(table)))
            for table in tables_on(store.dialect)
        }


async def rows(store: Store, table: Any) -> list[dict[str, Any]]:
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(table))]


async def test_a_batch_is_stored_with_chinese_emoji_and_audio_intact(store: Store) -> None:
    result = await Ingestor(store, EventBus()).ingest(conversation())
    assert len(result.stored) == 3
    stored = sorted(await rows(store, messages), key=lambda row: row["created_at"])
    assert [row["content"] for row in stored][:2] == ["你好，小智 😀", "你好！有什么可以帮你？"]
    assert stored[0]["created_at"] == T0
    assert (await rows(store, audio))[0]["data"] == b"RIFF....WAVEfmt "


async def test_writing_the_same_batch_twice_leaves_the_store_unchanged(store: Store) -> None:
    ingestor = Ingestor(store, EventBus())
    await ingestor.ingest(conversation())
    before = await snapshot(store)
    result = await ingestor.ingest(conversation())
    assert result.stored == []
    assert result.duplicates == 3
    assert await snapshot(store) == before


async def test_a_batch_with_one_invalid_record_stores_the_valid_ones(store: Store) -> None:
    batch = Batch(messages=[turn("ok"), turn("bad", 1, chat_type=7), turn("also ok", 2)])
    result = await Ingestor(store, EventBus()).ingest(batch)
    assert [row["content"] for row in result.stored] == ["ok", "also ok"]
    assert len(result.rejected) == 1
    assert result.rejected[0].index == 1
    assert "chat_type" in result.rejected[0].reason
    assert len(await rows(store, messages)) == 2


async def test_session_and_device_aggregates_follow_the_messages(store: Store) -> None:
    ingestor = Ingestor(store, EventBus())
    await ingestor.ingest(conversation())
    await ingestor.ingest(Batch(messages=[turn("another session", 60, session_id="session-2")]))
    session_rows = {row["session_id"]: row for row in await rows(store, sessions)}
    first = session_rows["session-1"]
    assert (first["message_count"], first["title"], first["device"]) == (3, "打招呼", MAC)
    assert first["first_message_at"] == T0
    assert first["last_message_at"] == T0 + timedelta(seconds=2)
    device = (await rows(store, devices))[0]
    assert (device["message_count"], device["session_count"], device["alias"]) == (4, 2, "客厅")
    assert device["last_seen_at"] == T0 + timedelta(seconds=60)


async def test_the_same_turn_from_another_source_fills_in_what_it_knows(store: Store) -> None:
    ingestor = Ingestor(store, EventBus())
    await ingestor.ingest(Batch(messages=[turn("hello")]))
    later = turn("hello", source="poll", source_id=42, agent_id="agent-9")
    result = await ingestor.ingest(Batch(messages=[later]))
    assert result.stored == []
    [row] = await rows(store, messages)
    assert (row["source"], row["source_id"], row["agent_id"]) == ("test", 42, "agent-9")


async def test_a_title_that_arrives_before_its_messages_is_kept(store: Store) -> None:
    ingestor = Ingestor(store, EventBus())
    await ingestor.ingest(Batch(titles=[TitleRecord("session-1", "早到的标题")]))
    await ingestor.ingest(Batch(messages=[turn("hi")]))
    [session] = await rows(store, sessions)
    assert (session["title"], session["device"], session["message_count"]) == ("早到的标题", MAC, 1)


async def test_content_longer_than_64_kib_is_stored_in_full(store: Store) -> None:
    long_text = "长" * 70_000
    await Ingestor(store, EventBus()).ingest(Batch(messages=[turn(long_text)]))
    [row] = await rows(store, messages)
    assert row["content"] == long_text


async def test_events_follow_the_commit_and_carry_store_ids(store: Store) -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    ingestor = Ingestor(store, bus)
    result = await ingestor.ingest(conversation())
    await ingestor.ingest(conversation())
    subscription.close()
    events: list[Event] = [event async for event in subscription]
    chat = [event.data for event in events if event.type == "chat_update"]
    assert [message["id"] for message in chat] == [row["id"] for row in result.stored]
    stored_ids = {row["id"] for row in await rows(store, messages)}
    assert {message["id"] for message in chat} == stored_ids
    assert {event.type for event in events} >= {"chat_update", "session_update", "device_update"}


async def test_mac_addresses_in_any_spelling_are_one_device(store: Store) -> None:
    ingestor = Ingestor(store, EventBus())
    await ingestor.ingest(Batch(messages=[turn("a", device="A0-85-E3-00-00-01")]))
    await ingestor.ingest(Batch(messages=[turn("b", 1, device="a085e3000001")]))
    assert [row["mac"] for row in await rows(store, devices)] == [MAC]
