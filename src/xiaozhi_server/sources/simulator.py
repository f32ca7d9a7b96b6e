"""The demo's device simulator: devices talking at a human pace, through the real ingest path."""

from __future__ import annotations

import asyncio
import io
import math
import random
import struct
import uuid
import wave
from datetime import UTC, datetime, timedelta

from xiaozhi_server.domain import (
    AudioRecord,
    Batch,
    ChatType,
    DeviceRecord,
    MessageRecord,
    TitleRecord,
)
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.sources.demo_content import AGENTS, CONVERSATIONS, DEVICES

SOURCE = "demo"


def tone_wav(seconds: float = 0.3, frequency: float = 440.0, rate: int = 16000) -> bytes:
    """A short 16 kHz mono 16-bit WAV, the format the core records."""
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * i / rate)))
        for i in range(int(seconds * rate))
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames)
    return buffer.getvalue()


def conversation_batch(
    device: DeviceRecord, conversation: int, start: datetime, rng: random.Random, gap: float = 4.0
) -> Batch:
    """One whole past session for ``device``, its turns ``gap`` seconds apart on average."""
    title, turns = CONVERSATIONS[conversation % len(CONVERSATIONS)]
    session_id = str(uuid.UUID(int=rng.getrandbits(128)))
    batch = Batch(titles=[TitleRecord(session_id, title)])
    moment = start
    for chat_type, content in turns:
        moment += timedelta(seconds=rng.uniform(0.5, 2) * gap)
        batch.messages.append(_turn(device, session_id, chat_type, content, moment))
    return batch


async def seed_history(ingestor: Ingestor, days: int = 7, seed: int = 2026) -> int:
    """Fill the past ``days`` with sessions so statistics have something to show.

    Seeding is deterministic per day, so a restart on the same day adds nothing.
    """
    rng = random.Random(seed)
    await ingestor.ingest(Batch(agents=list(AGENTS), devices=list(DEVICES)))
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    stored = 0
    for day in range(days, 0, -1):
        for device in DEVICES:
            for _ in range(rng.randint(1, 4)):
                start = today - timedelta(days=day, hours=-rng.uniform(7, 22))
                batch = conversation_batch(device, rng.randrange(len(CONVERSATIONS)), start, rng)
                stored += (await ingestor.ingest(batch)).inserted
    return stored


async def run_live(ingestor: Ingestor, speed: float = 1.0, devices_at_once: int = 2) -> None:
    """Talk forever: a few devices at a time, one turn every few seconds (``speed`` scales it)."""
    await asyncio.gather(*(_device_loop(ingestor, speed, lane) for lane in range(devices_at_once)))


async def _device_loop(ingestor: Ingestor, speed: float, lane: int) -> None:
    rng = random.Random()
    while True:
        device = DEVICES[(lane + rng.randrange(len(DEVICES))) % len(DEVICES)]
        await _live_session(ingestor, device, rng, speed)
        await asyncio.sleep(rng.uniform(2, 6) / speed)


async def _live_session(
    ingestor: Ingestor, device: DeviceRecord, rng: random.Random, speed: float
) -> None:
    title, turns = CONVERSATIONS[rng.randrange(len(CONVERSATIONS))]
    session_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    await ingestor.ingest(Batch(devices=[DeviceRecord(device.device, last_connected_at=now)]))
    for chat_type, content in turns:
        await asyncio.sleep(rng.uniform(1.0, 3.0) / speed)
        message = _turn(device, session_id, chat_type, content, datetime.now(UTC))
        audio = []
        if chat_type == ChatType.AGENT and rng.random() < 0.5:
            audio_id = uuid.uuid4().hex
            message = _turn(device, session_id, chat_type, content, message.created_at, audio_id)
            audio = [AudioRecord(audio_id, tone_wav())]
        await ingestor.ingest(Batch(messages=[message], audio=audio))
    await ingestor.ingest(Batch(titles=[TitleRecord(session_id, title)]))


def _turn(
    device: DeviceRecord,
    session_id: str,
    chat_type: int,
    content: str,
    moment: datetime,
    audio_id: str | None = None,
) -> MessageRecord:
    return MessageRecord(
        device=device.device,
        session_id=session_id,
        chat_type=chat_type,
        content=content,
        created_at=moment,
        source=SOURCE,
        agent_id=device.agent_id,
        audio_id=audio_id,
    )
