"""Retention passes on SQLite and MariaDB: what goes by which rule, what stays exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.aggregates import assert_aggregates_exact
from tests.support.core_client import wav_bytes
from xiaozhi_server.config import CaptureSettings, RetentionSettings
from xiaozhi_server.domain import AgentRecord, AudioRecord, Batch, DeviceRecord, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.privacy.retention import run_and_record, run_pass
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import audit, search
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio, devices, messages, sessions

NOW = datetime.now(UTC).replace(microsecond=0)
HALL, STUDY, KITCHEN = "a0:85:e3:00:00:01", "a0:85:e3:00:00:02", "a0:85:e3:00:00:03"
CLIP = wav_bytes(800)


def policy(**retention: Any) -> DataPolicy:
    return DataPolicy.from_settings(RetentionSettings.model_validate(retention), CaptureSettings())


def turn(device: str, days: int, agent: str | None, audio_id: str | None = None) -> MessageRecord:
    """One turn ``days`` old, in a session of its own device and age."""
    return MessageRecord(
        device,
        f"{device[-2:]}-{days}d",
        1,
        f"{days} 天前的话",
        NOW - timedelta(days=days, minutes=1),
        "test",
        agent_id=agent,
        audio_id=audio_id,
    )


def history() -> Batch:
    """Hall and kitchen are bound to agent a1 (kitchen's turns came without an agent id),
    the study to a2; turns 100, 10 and 1 days old, some with audio."""
    turns = [
        turn(HALL, 100, "a1", "hall-100"),
        turn(HALL, 10, "a1", "hall-10"),
        turn(HALL, 1, "a1", "hall-1"),
        turn(STUDY, 100, "a2"),
        turn(STUDY, 10, "a2", "study-10"),
        turn(STUDY, 1, "a2"),
        turn(KITCHEN, 100, None),
    ]
    return Batch(
        messages=turns,
        audio=[AudioRecord(t.audio_id, CLIP) for t in turns if t.audio_id],
        agents=[AgentRecord("a1", "小智", 2), AgentRecord("a2", "Tutor", 2)],
        devices=[
            DeviceRecord(HALL, agent_id="a1"),
            DeviceRecord(STUDY, agent_id="a2"),
            DeviceRecord(KITCHEN, agent_id="a1"),
        ],
    )


@pytest.fixture
async def seeded(store: Store) -> Store:
    await Ingestor(store, EventBus()).ingest(history())
    return store


async def ages(store: Store) -> set[tuple[str, str]]:
    """(device, session) of every stored message: sessions are named by age."""
    async with store.read() as connection:
        result = await connection.execute(select(messages.c.device, messages.c.session_id))
        return {(row.device, row.session_id.split("-")[1]) for row in result}


async def rows(store: Store, table: Any) -> list[dict[str, Any]]:
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(table))]


async def test_messages_older_than_messages_days_go_and_the_rest_stays(seeded: Store) -> None:
    report = await run_pass(seeded, policy(messages_days=30))
    assert await ages(seeded) == {(HALL, "10d"), (HALL, "1d"), (STUDY, "10d"), (STUDY, "1d")}
    assert (report.totals["messages"], report.totals["sessions"]) == (3, 3)
    assert report.totals["audio"] == 1  # the hall's 100-day clip went with its message
    await assert_aggregates_exact(seeded)


async def test_audio_older_than_audio_days_loses_its_bytes_but_keeps_its_text(
    seeded: Store,
) -> None:
    await run_pass(seeded, policy(audio_days=5))
    kept = {m["session_id"]: m for m in await rows(seeded, messages)}
    assert len(kept) == 7
    assert kept["01-10d"]["audio_id"] is None
    assert kept["01-10d"]["content"] == "10 天前的话"
    assert kept["01-1d"]["audio_id"] == "hall-1"
    assert {a["audio_id"] for a in await rows(seeded, audio)} == {"hall-1"}


async def test_an_agent_kept_for_ever_is_exempt_from_the_default(seeded: Store) -> None:
    await run_pass(seeded, policy(messages_days=30, agents={"a2": {"messages_days": None}}))
    assert (STUDY, "100d") in await ages(seeded)
    assert (HALL, "100d") not in await ages(seeded)


async def test_a_device_rule_beats_its_agent_rule(seeded: Store) -> None:
    rules = policy(agents={"a1": {"messages_days": 30}}, devices={HALL: {"messages_days": 5}})
    await run_pass(seeded, rules)
    assert await ages(seeded) == {
        (HALL, "1d"),
        (STUDY, "100d"),
        (STUDY, "10d"),
        (STUDY, "1d"),
    }


async def test_an_agent_rule_covers_turns_its_devices_reported_without_an_agent(
    seeded: Store,
) -> None:
    await run_pass(seeded, policy(agents={"a1": {"messages_days": 30}}))
    assert (KITCHEN, "100d") not in await ages(seeded)
    assert (STUDY, "100d") in await ages(seeded)


async def test_an_override_that_leaves_a_kind_out_inherits_it(seeded: Store) -> None:
    await run_pass(seeded, policy(messages_days=30, agents={"a2": {"audio_days": 5}}))
    assert (STUDY, "100d") not in await ages(seeded)
    assert {a["audio_id"] for a in await rows(seeded, audio)} == {"hall-10", "hall-1"}


async def test_a_dry_run_deletes_nothing_and_says_what_would_go_per_device_and_agent(
    seeded: Store,
) -> None:
    report = await run_pass(seeded, policy(messages_days=30, audio_days=5), dry_run=True)
    assert len(await rows(seeded, messages)) == 7
    assert (report.totals["messages"], report.totals["audio"]) == (3, 3)
    assert report.by_device[KITCHEN]["messages"] == 1
    assert report.by_agent["a1"] == {"messages": 2, "audio": 2}
    assert report.rules["default (30 days)"]["messages"] == 3


async def test_batches_of_one_still_delete_everything_due(seeded: Store) -> None:
    report = await run_pass(seeded, policy(messages_days=5, audio_days=5), batch_size=1)
    assert await ages(seeded) == {(HALL, "1d"), (STUDY, "1d")}
    assert report.totals["audio"] == 3
    await assert_aggregates_exact(seeded)


async def test_purged_messages_leave_the_search_index(seeded: Store) -> None:
    await run_pass(seeded, policy(messages_days=30))
    assert {m["session_id"] for m in await search.search_messages(seeded, "天前", 10)} == {
        "01-10d",
        "01-1d",
        "02-10d",
        "02-1d",
    }


async def test_a_device_whose_history_all_went_stays_with_no_activity(seeded: Store) -> None:
    await run_pass(seeded, policy(messages_days=30))
    [kitchen] = [d for d in await rows(seeded, devices) if d["mac"] == KITCHEN]
    assert (kitchen["message_count"], kitchen["session_count"], kitchen["last_seen_at"]) == (
        0,
        0,
        None,
    )


async def test_the_write_path_refuses_turns_already_past_retention(store: Store) -> None:
    ingestor = Ingestor(store, EventBus(), policy(messages_days=30, audio_days=5))
    result = await ingestor.ingest(history())
    assert result.withheld == 3
    assert len(await rows(store, messages)) == 4
    assert {a["audio_id"] for a in await rows(store, audio)} == {"hall-1"}
    assert {s["session_id"] for s in await rows(store, sessions)} == {
        "01-10d",
        "01-1d",
        "02-10d",
        "02-1d",
    }


async def test_a_pass_that_deleted_something_is_audited_with_counts(seeded: Store) -> None:
    await run_and_record(seeded, policy(messages_days=30), 100, "retention", "system")
    await run_and_record(seeded, policy(messages_days=30), 100, "retention", "system")
    [entry] = await audit.entries(seeded, 10, action="retention")
    assert (entry["actor"], entry["actor_kind"]) == ("retention", "system")
    assert entry["detail"] == {"messages": 3, "audio": 1, "audio_bytes": len(CLIP), "sessions": 3}
