"""Search through the index when the newest candidates are not hits (many index steps)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.search import search_messages

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
KITCHEN, HALL = "aa:00:00:00:00:01", "aa:00:00:00:00:02"


async def store_turns(store: Store, turns: list[tuple[str, str]]) -> None:
    """(device, text) pairs, oldest first."""
    records = [
        MessageRecord(device, f"s-{device}", 1, text, T0 + timedelta(seconds=n), "test")
        for n, (device, text) in enumerate(turns)
    ]
    await Ingestor(store, EventBus()).ingest(Batch(messages=records))


async def test_old_hits_are_found_behind_many_newer_messages_with_the_same_grams_apart(
    store: Store,
) -> None:
    # every gram of 天气预报 in each newer message, never next to each other
    await store_turns(store, [(KITCHEN, "天气预报一"), (KITCHEN, "天气预报二")])
    await store_turns(store, [(KITCHEN, f"天气。气预。预报 {n}") for n in range(700)])
    found = await search_messages(store, "天气预报", limit=5)
    assert [row["content"] for row in found] == ["天气预报二", "天气预报一"]


async def test_a_filter_only_old_hits_pass_still_finds_them(store: Store) -> None:
    await store_turns(store, [(HALL, "今天天气很好")])
    await store_turns(store, [(KITCHEN, f"天气不错 {n}") for n in range(700)])
    found = await search_messages(store, "天气", limit=5, device=HALL)
    assert [row["content"] for row in found] == ["今天天气很好"]
