"""Report latency while retention purges 1,000,000 messages, next to the same server idle.

A store of 1,000,000 old messages (10 turns a session, 1,000 devices, 20 agents, audio on
5% of turns, 100-400 days old) plus a recent week, loaded through ingest into SQLite (the
default store; every write goes through one writer, so this is where a purge could stall
ingest). Then, each against a fresh server process on that store: reports at a fixed rate
(open loop) with nothing else running; and the same rate while the server's retention job
(``retention.messages_days: 30``, default batch size and pacing) deletes every old message, measured
from its start until ``xiaozhi_retention_last_pass_timestamp_seconds`` says the pass ended,
then idle again on that same server. Goal: report p99 during the purge within 2x of the
idle p99 (the higher of the two idle runs: the machine's load moves between minutes).

``python -m bench.retention_purge [scale] [XIAOZHI_…=value …]`` (scale 1.0 = the sizes above,
0.1 on a busy machine; settings for the purging server, e.g. another batch size).
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from bench.common import percentile, report
from bench.report_throughput import HEADERS, OFFERED_RATE, latency_at_fixed_rate, report_body
from bench.server import running_server
from xiaozhi_server.domain import AudioRecord, Batch, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store

TURNS = 10
AGENTS = 20
CLIP = b"RIFF" + bytes(196)
POLL_SECONDS = 0.5


def batches(messages: int, devices: int, per_batch: int = 200) -> Iterator[Batch]:
    """Old sessions (100-400 days ago), then a recent week that retention keeps."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    sessions = messages // TURNS
    for first in range(0, sessions + sessions // 20, per_batch):
        batch = Batch()
        for number in range(first, min(first + per_batch, sessions + sessions // 20)):
            old = number < sessions
            age = timedelta(days=rng.uniform(100, 400) if old else rng.uniform(0, 7))
            device = rng.randrange(devices)
            mac = f"a0:85:e3:01:{device // 256:02x}:{device % 256:02x}"
            for turn in range(TURNS):
                audio_id = f"clip-{number}-{turn}" if rng.random() < 0.05 else None
                batch.messages.append(
                    MessageRecord(
                        mac,
                        f"purge-{number:08d}",
                        1 + turn % 2,
                        f"第{turn}句 今天天气怎么样 #{number}",
                        now - age + timedelta(seconds=3 * turn),
                        "bench",
                        agent_id=f"agent-{device % AGENTS:02d}",
                        audio_id=audio_id,
                    )
                )
                if audio_id:
                    batch.audio.append(AudioRecord(audio_id, CLIP))
        yield batch


async def load(url: str, messages: int, devices: int) -> float:
    store = Store(url)
    await migrate.upgrade(store.engine)
    ingestor = Ingestor(store, EventBus())
    started = time.perf_counter()
    for batch in batches(messages, devices):
        await ingestor.ingest(batch)
    await store.close()
    return time.perf_counter() - started


async def until_purged(base_url: str) -> float:
    """Seconds until the server's first retention pass has ended."""
    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=30) as client:
        while True:
            text = (await client.get(f"{base_url}/metrics")).text
            for line in text.splitlines():
                name, _, value = line.partition(" ")
                if name == "xiaozhi_retention_last_pass_timestamp_seconds" and float(value) > 0:
                    return time.perf_counter() - started
            await asyncio.sleep(POLL_SECONDS)


async def latency_during_purge(base_url: str) -> tuple[list[float], float, int]:
    """Report latencies (ms), sent at OFFERED_RATE from now until the purge has ended, the
    purge's seconds, and how many reports failed."""
    url = f"{base_url}/xiaozhi/agent/chat-history/report"
    latencies: list[float] = []
    failed = 0
    purge = asyncio.create_task(until_purged(base_url))
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=60) as client:

        async def one(scheduled: float) -> None:
            nonlocal failed
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            try:
                response = await client.post(url, content=report_body(), headers=HEADERS)
                response.raise_for_status()
            except httpx.HTTPError:
                failed += 1
                return
            latencies.append((time.perf_counter() - scheduled) * 1000)

        start, sent, pending = time.perf_counter() + 0.1, 0, []
        while not purge.done():
            pending.append(asyncio.create_task(one(start + sent / OFFERED_RATE)))
            sent += 1
            await asyncio.sleep(max(0.0, start + sent / OFFERED_RATE - time.perf_counter() - 0.05))
        await asyncio.gather(*pending)
    return latencies, purge.result(), failed


def count(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        return int(connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def main(scale: float = 1.0, **env: str) -> None:
    messages, devices = int(1_000_000 * scale), max(20, int(1000 * scale))
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "bench.db"
        load_seconds = asyncio.run(load(f"sqlite+aiosqlite:///{path}", messages, devices))
        stored = count(path)
        with running_server(Path(scratch)) as base_url:
            asyncio.run(latency_at_fixed_rate(base_url))  # warm up
            idle = asyncio.run(latency_at_fixed_rate(base_url))
        before_purge = count(path)
        retention = {"XIAOZHI_RETENTION__MESSAGES_DAYS": "30"} | env
        with running_server(Path(scratch), **retention) as base_url:
            during, purge_seconds, failed = asyncio.run(latency_during_purge(base_url))
            left = count(path)
            # the same process, right after: this machine's load moves between minutes
            idle_after = asyncio.run(latency_at_fixed_rate(base_url))
    purged = before_purge + len(during) - left
    figures = {
        "store": "sqlite",
        "messages_before": stored,
        "messages_purged": purged,
        "load_seconds": round(load_seconds, 1),
        "purge_seconds": round(purge_seconds, 1),
        "purged_per_s": round(purged / purge_seconds),
        "report_rate_per_s": OFFERED_RATE,
        "report_latency_idle": _summary(idle),
        "report_latency_during_purge": _summary(during),
        "report_latency_idle_after": _summary(idle_after),
        "reports_failed_during_purge": failed,
        "p99_ratio_purge_vs_idle": round(
            percentile(during, 99) / max(percentile(idle, 99), percentile(idle_after, 99)), 2
        ),
        "goal_p99_ratio": 2.0,
    }
    report("retention_purge", figures)


def _summary(latencies: list[float]) -> dict[str, float]:
    return {
        "reports": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
    }


if __name__ == "__main__":
    # python -m bench.retention_purge [scale] [XIAOZHI_RETENTION__BATCH_SIZE=500 ...]
    settings = dict(argument.split("=", 1) for argument in sys.argv[2:])
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0, **settings)
