"""Voiceprint turns through the one write path, on SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.natural_key import natural_key
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import Event, EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.search import search_messages
from xiaozhi_server.store.tables import messages

SAID = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
MAC = "a0:85:e3:00:00:01"
REPORTED = json.dumps({"speaker": "妈妈", "content": "明天早上七点叫我"}, ensure_ascii=False)


def voiceprint_turn(source: str = "report") -> MessageRecord:
    return MessageRecord(MAC, "s-1", 1, REPORTED, SAID, source)


async def stored(store: Store) -> list[dict[str, Any]]:
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(messages))]


async def test_a_voiceprint_turn_is_stored_with_its_speaker_and_plain_text(store: Store) -> None:
    await Ingestor(store, EventBus()).ingest(Batch(messages=[voiceprint_turn()]))
    [row] = await stored(store)
    assert (row["speaker"], row["content"]) == ("妈妈", "明天早上七点叫我")


async def test_the_natural_key_still_hashes_the_content_as_reported(store: Store) -> None:
    await Ingestor(store, EventBus()).ingest(Batch(messages=[voiceprint_turn()]))
    [row] = await stored(store)
    assert row["natural_key"] == natural_key(MAC, "s-1", 1, SAID, REPORTED)


async def test_the_same_voiceprint_turn_from_another_source_is_one_row(store: Store) -> None:
    ingestor = Ingestor(store, EventBus())
    await ingestor.ingest(Batch(messages=[voiceprint_turn("report")]))
    again = await ingestor.ingest(Batch(messages=[voiceprint_turn("poll")]))
    assert again.stored == []
    assert len(await stored(store)) == 1


async def test_the_live_update_carries_the_speaker_and_plain_text(store: Store) -> None:
    bus = EventBus()
    subscription = bus.subscribe()
    await Ingestor(store, bus).ingest(Batch(messages=[voiceprint_turn()]))
    subscription.close()
    events: list[Event] = [event async for event in subscription]
    [chat] = [event.data for event in events if event.type == "chat_update"]
    assert (chat["speaker"], chat["content"]) == ("妈妈", "明天早上七点叫我")


async def test_search_matches_the_plain_text_not_the_json_around_it(store: Store) -> None:
    await Ingestor(store, EventBus()).ingest(Batch(messages=[voiceprint_turn()]))
    assert [row["content"] for row in await search_messages(store, "七点", 10)] == [
        "明天早上七点叫我"
    ]
    assert await search_messages(store, "speaker", 10) == []


async def test_search_can_keep_to_one_speaker(store: Store) -> None:
    other = json.dumps({"speaker": "爸爸", "content": "明天七点出发"}, ensure_ascii=False)
    turns = [voiceprint_turn(), MessageRecord(MAC, "s-1", 1, other, SAID, "report")]
    await Ingestor(store, EventBus()).ingest(Batch(messages=turns))
    found = await search_messages(store, "七点", 10, speaker="爸爸")
    assert [row["content"] for row in found] == ["明天七点出发"]
