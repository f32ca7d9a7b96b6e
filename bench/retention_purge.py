"""Report latency while retention purges 1,000,000 messages, next to the same server idle.

A store of 1,000,000 old messages (10 turns a session, 1,000 devices, 20 agents, audio on
5% of turns, 100-400 days old) plus a recent week, loaded through ingest into SQLite (the
default store; every write goes through one writer, so this is where a purge could stall
ingest). Then, each against a fresh server process on that store: the reports per second
the idle server takes back to back (wrk), then reports at a quarter of that, at most 100/s
(open loop), for 30 s with nothing else running; and the same rate while the server's
retention job (``retention.messages_days: 30``, default batch size and pacing) deletes
every old message, measured from its start until
``xiaozhi_retention_last_pass_timestamp_seconds`` says the pass ended, then idle again on
that same server. Goal: report p99 during the purge within 2x of the idle p99 (the higher
of the two idle runs: the machine's load moves between minutes). A second figure does the
same in one process without HTTP — reports handed to the write path at 100/s while
``run_pass`` purges — so the cost to the write path shows even when the machine's load
(or the Python HTTP client) dominates the first.

``python -m bench.retention_purge [scale] [XIAOZHI_…=value …]`` (scale 1.0 = the sizes above,
0.1 on a busy machine; settings for the purging server, e.g. another batch size).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.common import percentile, report
from bench.report_throughput import HEADERS, WRK_SCRIPT, closed_loop, report_body
from bench.server import running_server
from xiaozhi_server.config import CaptureSettings, RetentionSettings
from xiaozhi_server.domain import AudioRecord, Batch, MessageRecord
from xiaozhi_server.ingest.group_commit import GroupCommitter
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.privacy.retention import run_pass
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store

TURNS = 10
# Idle windows: a p99 of 3,000 reports (a 10 s window of 1,000 gave 27 or 170 ms by chance).
WINDOW_SECONDS = 30.0
MAX_RATE = 100.0
# Reports are offered at a quarter of what the idle server took back to back (at most 100/s):
# on a shared machine a fixed rate can exceed what it manages at all, and then every
# figure is a queue, not a latency.
LOAD_SHARE = 0.25
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


async def paced(
    rate: float, until: Callable[[], bool], send: Callable[[], Awaitable[None]]
) -> tuple[list[float], int]:
    """``send`` called ``rate`` times a second until ``until()`` (open loop): latencies (ms,
    from each call's scheduled time) and how many calls failed."""
    latencies: list[float] = []
    failed = 0

    async def one(scheduled: float) -> None:
        nonlocal failed
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        try:
            await send()
        except httpx.HTTPError:
            failed += 1
            return
        latencies.append((time.perf_counter() - scheduled) * 1000)

    start, sent, pending = time.perf_counter() + 0.1, 0, []
    while not until():
        pending.append(asyncio.create_task(one(start + sent / rate)))
        sent += 1
        await asyncio.sleep(max(0.0, start + sent / rate - time.perf_counter() - 0.05))
    await asyncio.gather(*pending)
    return latencies, failed


async def open_loop(
    base_url: str, rate: float, until: Callable[[], bool]
) -> tuple[list[float], int]:
    """Reports over HTTP at ``rate`` per second until ``until()``."""
    url = f"{base_url}/xiaozhi/agent/chat-history/report"
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=60) as client:

        async def send() -> None:
            response = await client.post(url, content=report_body(), headers=HEADERS)
            response.raise_for_status()

        return await paced(rate, until, send)


def for_seconds(seconds: float) -> Callable[[], bool]:
    """A condition that turns true ``seconds`` from now."""
    end = time.monotonic() + seconds
    return lambda: time.monotonic() > end


async def during_purge(base_url: str, rate: float) -> tuple[list[float], int, float]:
    """Reports at ``rate`` from now until the server's retention pass has ended."""
    purge = asyncio.create_task(until_purged(base_url))
    latencies, failed = await open_loop(base_url, rate, purge.done)
    return latencies, failed, purge.result()


async def in_process(url: str, rate: float) -> dict[str, Any]:
    """The same comparison without HTTP or a client process: reports submitted to the write
    path (group commit, as the endpoint does) at ``rate`` while ``run_pass`` purges, next to
    the same before and after — what the purge costs the write path alone."""
    store = Store(url)
    committer = GroupCommitter(Ingestor(store, EventBus()))
    numbers = itertools.count()

    async def windowed(until: Callable[[], bool]) -> list[float]:
        async def send() -> None:
            await committer.submit(live_turn(next(numbers)))

        return (await paced(rate, until, send))[0]

    try:
        idle = await windowed(for_seconds(WINDOW_SECONDS))
        policy = DataPolicy.from_settings(RetentionSettings(messages_days=30), CaptureSettings())
        started = time.perf_counter()
        purge = asyncio.create_task(run_pass(store, policy, RetentionSettings().batch_size))
        during = await windowed(purge.done)
        purge_seconds = time.perf_counter() - started
        purged = (await purge).totals["messages"]
        idle_after = await windowed(for_seconds(WINDOW_SECONDS))
    finally:
        await committer.close()
        await store.close()
    idle_p99 = max(percentile(idle, 99), percentile(idle_after, 99))
    return {
        "messages_purged": purged,
        "purged_per_s": round(purged / purge_seconds),
        "report_rate_per_s": rate,
        "write_latency_idle": _summary(idle),
        "write_latency_during_purge": _summary(during),
        "write_latency_idle_after": _summary(idle_after),
        "p99_ratio_purge_vs_idle": round(percentile(during, 99) / idle_p99, 2),
    }


def live_turn(number: int) -> Batch:
    """One report's worth: a turn of now."""
    message = MessageRecord(
        f"a0:85:e3:02:00:{number % 50:02x}",
        f"live-{number // 10}",
        1 + number % 2,
        f"第{number}句 benchmark turn",
        datetime.now(UTC),
        "report",
    )
    return Batch(messages=[message])


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
            capacity, _ = closed_loop(base_url, "/xiaozhi/agent/chat-history/report", WRK_SCRIPT)
            rate = min(MAX_RATE, capacity * LOAD_SHARE)
            idle, _ = asyncio.run(open_loop(base_url, rate, for_seconds(WINDOW_SECONDS)))
        before_purge = count(path)
        retention = {"XIAOZHI_RETENTION__MESSAGES_DAYS": "30"} | env
        with running_server(Path(scratch), **retention) as base_url:
            during, failed, purge_seconds = asyncio.run(during_purge(base_url, rate))
            left = count(path)
            # the same process, right after: this machine's load moves between minutes
            idle_after, _ = asyncio.run(open_loop(base_url, rate, for_seconds(WINDOW_SECONDS)))
    purged = before_purge + len(during) - left
    idle_p99 = max(percentile(idle, 99), percentile(idle_after, 99))
    figures = {
        "store": "sqlite",
        "messages_before": stored,
        "messages_purged": purged,
        "load_seconds": round(load_seconds, 1),
        "purge_seconds": round(purge_seconds, 1),
        "purged_per_s": round(purged / purge_seconds),
        "report_capacity_per_s": round(capacity),
        "report_rate_per_s": round(rate, 1),
        "report_latency_idle": _summary(idle),
        "report_latency_during_purge": _summary(during),
        "report_latency_idle_after": _summary(idle_after),
        "reports_failed_during_purge": failed,
        "p99_ratio_purge_vs_idle": round(percentile(during, 99) / idle_p99, 2),
        "goal_p99_ratio": 2.0,
        "load_average": round(os.getloadavg()[0], 1),
    }
    report("retention_purge", figures)
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        asyncio.run(load(url, messages, devices))
        figures = {"store": "sqlite", "messages_before": messages} | asyncio.run(
            in_process(url, MAX_RATE)
        )
    report("retention_purge_write_path", figures | {"load_average": round(os.getloadavg()[0], 1)})


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
