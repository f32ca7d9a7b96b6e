"""A small, fixed data set written through the real ingest path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from tests.support.core_client import wav_bytes
from xiaozhi_server.domain import (
    AgentRecord,
    AudioRecord,
    Batch,
    DeviceRecord,
    MessageRecord,
    TitleRecord,
)
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
LIVING_ROOM = "aa:bb:cc:00:00:01"
KIDS_ROOM = "aa:bb:cc:00:00:02"
AUDIO = wav_bytes(4000)
TOOL_CALL = json.dumps(
    [{"type": "tool", "text": 'get_weather({"city": "深圳"})'}], ensure_ascii=False
)
TOOL_RESULT = json.dumps(
    [{"type": "tool_result", "text": '{"result": "晴，22°C"}'}], ensure_ascii=False
)


def _turn(
    device: str,
    session: str,
    agent: str,
    kind: int,
    text: str,
    at: timedelta,
    audio: str | None = None,
) -> MessageRecord:
    return MessageRecord(
        device, session, kind, text, T0 + at, "test", agent_id=agent, audio_id=audio
    )


def dataset() -> Batch:
    """Two devices, two agents, three sessions; Chinese, English, a tool call and audio."""
    return Batch(
        agents=[
            AgentRecord("agent-zh", "小智助手", 2),
            AgentRecord("agent-en", "English Tutor", 1),
        ],
        devices=[
            DeviceRecord(
                LIVING_ROOM, "dev-1", "客厅小智", "bread-compact-wifi", "1.7.6", "agent-zh"
            ),
            DeviceRecord(KIDS_ROOM, "dev-2", "Kids Room", "esp-box-3", "1.6.0", "agent-en"),
        ],
        messages=[
            _turn(
                LIVING_ROOM, "s-weather", "agent-zh", 1, "小智，今天深圳天气怎么样？", timedelta(0)
            ),
            _turn(LIVING_ROOM, "s-weather", "agent-zh", 3, TOOL_CALL, timedelta(seconds=1)),
            _turn(LIVING_ROOM, "s-weather", "agent-zh", 3, TOOL_RESULT, timedelta(seconds=2)),
            _turn(
                LIVING_ROOM,
                "s-weather",
                "agent-zh",
                2,
                "今天深圳晴，22度。",
                timedelta(seconds=3),
                "audio-1",
            ),
            _turn(LIVING_ROOM, "s-music", "agent-zh", 1, "播放音乐", timedelta(hours=20)),
            _turn(
                LIVING_ROOM,
                "s-music",
                "agent-zh",
                2,
                "好的，为你播放《晴天》。",
                timedelta(hours=20, seconds=2),
            ),
            _turn(
                KIDS_ROOM,
                "s-english",
                "agent-en",
                1,
                "Hello, can you help me?",
                timedelta(days=1, hours=2),
            ),
            _turn(
                KIDS_ROOM,
                "s-english",
                "agent-en",
                2,
                "Hello! Of course I can help.",
                timedelta(days=1, hours=2, seconds=2),
            ),
        ],
        audio=[AudioRecord("audio-1", AUDIO)],
        titles=[
            TitleRecord("s-weather", "深圳天气"),
            TitleRecord("s-music", "播放音乐"),
            TitleRecord("s-english", "English practice"),
        ],
    )


async def seed(url: str) -> None:
    """Migrate the store at ``url`` and write the data set through ingest."""
    store = Store(url)
    await migrate.upgrade(store.engine)
    await Ingestor(store, EventBus()).ingest(dataset())
    await store.close()
