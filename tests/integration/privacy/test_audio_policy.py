"""The audio opt-out: text kept, audio bytes never written, by any source; audio bytes in
the statistics per device and per agent."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from tests.support.core_client import SECRET, encoded, report_body, report_headers, wav_bytes
from tests.support.live_app import serving
from tests.support.seed import AUDIO, KIDS_ROOM, LIVING_ROOM, T0, dataset
from xiaozhi_server.config import CaptureSettings, RetentionSettings, Settings
from xiaozhi_server.domain import AgentRecord, AudioRecord, Batch, DeviceRecord, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.sources.simulator import seed_history
from xiaozhi_server.store import stats as stat_queries
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio, messages

CLIP = wav_bytes(400)


def ingestor(store: Store, **capture: Any) -> Ingestor:
    policy = DataPolicy.from_settings(RetentionSettings(), CaptureSettings.model_validate(capture))
    return Ingestor(store, EventBus(), policy)


def spoken(device: str, agent: str | None, audio_id: str) -> Batch:
    """One agent turn with its audio."""
    message = MessageRecord(device, f"s-{audio_id}", 2, "好的", T0, "test", agent, audio_id)
    return Batch(messages=[message], audio=[AudioRecord(audio_id, CLIP)])


async def rows(store: Store, table: Any) -> list[dict[str, Any]]:
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(table))]


async def test_with_audio_off_the_text_is_kept_and_no_audio_is_written(store: Store) -> None:
    await ingestor(store, store_audio=False).ingest(dataset())
    stored = await rows(store, messages)
    assert len(stored) == 8
    assert {m["audio_id"] for m in stored} == {None}
    assert await rows(store, audio) == []


async def test_an_agent_can_be_opted_out_while_others_keep_audio(store: Store) -> None:
    hub = ingestor(store, store_audio_agents={"agent-zh": False})
    await hub.ingest(spoken(LIVING_ROOM, "agent-zh", "zh-1"))
    await hub.ingest(spoken(KIDS_ROOM, "agent-other", "other-1"))
    assert {a["audio_id"] for a in await rows(store, audio)} == {"other-1"}


async def test_an_agent_can_be_opted_in_while_audio_is_off(store: Store) -> None:
    hub = ingestor(store, store_audio=False, store_audio_agents={"agent-zh": True})
    await hub.ingest(spoken(LIVING_ROOM, "agent-zh", "zh-1"))
    await hub.ingest(spoken(KIDS_ROOM, "agent-other", "other-1"))
    assert {a["audio_id"] for a in await rows(store, audio)} == {"zh-1"}


async def test_an_agent_the_upstream_records_text_only_never_has_audio_kept(store: Store) -> None:
    hub = ingestor(store, store_audio=True)
    await hub.ingest(Batch(agents=[AgentRecord("agent-text", "文字", 1)]))
    await hub.ingest(spoken(LIVING_ROOM, "agent-text", "text-1"))
    assert await rows(store, audio) == []


async def test_a_turn_without_an_agent_id_follows_its_devices_agent(store: Store) -> None:
    hub = ingestor(store, store_audio_agents={"agent-zh": False})
    await hub.ingest(Batch(devices=[DeviceRecord(LIVING_ROOM, agent_id="agent-zh")]))
    await hub.ingest(spoken(LIVING_ROOM, None, "unbound-1"))
    assert await rows(store, audio) == []
    assert [m["content"] for m in await rows(store, messages)] == ["好的"]


async def test_the_demo_writes_no_audio_when_audio_is_off(store: Store) -> None:
    assert await seed_history(ingestor(store, store_audio=False), days=1) > 0
    assert await rows(store, audio) == []


async def test_a_report_with_audio_stores_only_the_text_when_audio_is_off(
    store_url: str, store: Store
) -> None:
    settings = Settings.model_validate(
        {
            "storage": {"url": store_url},
            "auth": {"report_secret": SECRET},
            "capture": {"store_audio": False},
        }
    )
    with serving(settings) as app:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                f"{app.base_url}/xiaozhi/agent/chat-history/report",
                content=encoded(report_body(chat_type=2, content="你好呀", audio=CLIP)),
                headers=report_headers(),
            )
    assert response.json() == {"code": 0, "msg": "success", "data": True}
    [message] = await rows(store, messages)
    assert (message["content"], message["audio_id"]) == ("你好呀", None)
    assert await rows(store, audio) == []


async def test_statistics_show_audio_bytes_stored_per_device_and_per_agent(store: Store) -> None:
    hub = ingestor(store, store_audio_agents={"agent-en": False})
    await hub.ingest(dataset())
    await hub.ingest(spoken(KIDS_ROOM, "agent-en", "en-1"))
    window = (T0 - timedelta(days=1), datetime.now(UTC))
    per_device = await stat_queries.totals_by(store, "device", *window)
    per_agent = await stat_queries.totals_by(store, "agent", *window)
    assert {b["key"]: b["audio_bytes"] for b in per_device} == {
        LIVING_ROOM: len(AUDIO),
        KIDS_ROOM: 0,
    }
    assert {b["key"]: b["audio_bytes"] for b in per_agent} == {
        "agent-zh": len(AUDIO),
        "agent-en": 0,
    }


async def test_switching_audio_off_leaves_audio_stored_earlier_linked_to_its_turn(
    store: Store,
) -> None:
    await ingestor(store).ingest(spoken(LIVING_ROOM, "agent-zh", "zh-1"))
    again = spoken(LIVING_ROOM, "agent-zh", "zh-1")
    upstream_copy = replace(again.messages[0], source="poll", upstream_state=True, source_id=7)
    await ingestor(store, store_audio=False).ingest(Batch(messages=[upstream_copy]))
    [message] = await rows(store, messages)
    assert (message["audio_id"], message["source_id"]) == ("zh-1", 7)
    assert [a["audio_id"] for a in await rows(store, audio)] == ["zh-1"]
