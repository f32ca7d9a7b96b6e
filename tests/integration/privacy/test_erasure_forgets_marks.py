"""Notes, tags, stars and share links are personal data of a conversation: they go when
its history goes (erasure of a session or a device, retention), and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.seed import LIVING_ROOM, T0, dataset
from xiaozhi_server.config import CaptureSettings, RetentionSettings
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy import erasure
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.privacy.retention import run_pass
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import marks, shares
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import SESSION_MARK, mark_tags, messages
from xiaozhi_server.store.tables import marks as marks_table
from xiaozhi_server.store.tables import shares as shares_table

EVERYTHING = marks.Change(starred=True, note="孩子的名字叫小明", tags=["家庭"])


@pytest.fixture
async def marked(store: Store) -> Store:
    """The seed data set with every session and every message marked and every session shared."""
    await Ingestor(store, EventBus()).ingest(dataset())
    async with store.read() as connection:
        found = (await connection.execute(select(messages.c.session_id, messages.c.id))).all()
    for session_id, message_id in found:
        await marks.change(store, (session_id, message_id), marks.Change(note="n"), "admin")
    now = datetime.now(UTC)
    for session_id in {row.session_id for row in found}:
        await marks.change(store, (session_id, SESSION_MARK), EVERYTHING, "admin")
        await shares.create(store, session_id, "admin", now, now + timedelta(days=7))
    return store


async def sessions_with(store: Store, table: Any) -> set[str]:
    async with store.read() as connection:
        return {row.session_id for row in await connection.execute(select(table.c.session_id))}


async def marked_sessions(store: Store) -> tuple[set[str], set[str], set[str]]:
    return (
        await sessions_with(store, marks_table),
        await sessions_with(store, mark_tags),
        await sessions_with(store, shares_table),
    )


async def test_erasing_a_session_forgets_its_marks_and_shares_only(marked: Store) -> None:
    target = await erasure.find_target(marked, "session", "s-music")
    assert target is not None
    await erasure.erase(marked, target)
    remaining = {"s-weather", "s-english"}
    assert await marked_sessions(marked) == (remaining, remaining, remaining)


async def test_erasing_a_device_forgets_the_marks_and_shares_of_its_sessions(
    marked: Store,
) -> None:
    target = await erasure.find_target(marked, "device", LIVING_ROOM)
    assert target is not None
    await erasure.erase(marked, target)
    assert await marked_sessions(marked) == ({"s-english"}, {"s-english"}, {"s-english"})


async def test_retention_forgets_the_marks_of_the_messages_it_deletes(marked: Store) -> None:
    policy = DataPolicy.from_settings(
        RetentionSettings.model_validate({"messages_days": 1}), CaptureSettings()
    )
    # One day after the seed's first day: s-weather (day 0) is older than a day, s-english not.
    await run_pass(marked, policy, now=T0 + timedelta(days=1, hours=12))
    kept = await sessions_with(marked, marks_table)
    assert "s-weather" not in kept
    assert "s-english" in kept
