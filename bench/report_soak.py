"""Report soak: the report endpoint under a steady paced load for minutes (default 5).

A real ``xiaozhi-server serve`` (SQLite store) in its own process; the load from WORKERS
processes of their own, each paced by the clock (open loop: latency from each report's
scheduled send time, so a stall shows instead of slowing the sender). The mix is the
core's: user turns, agent turns (one row per TTS sentence) and tool calls with their
results, over many devices and sessions, some with a small WAV. The server's RSS is read
from /proc every few seconds. At the end the store's rows are counted: every acknowledged
report must be exactly one row.

Baseline from the same run, on the same server: the same load against ``/healthz`` for a
short time (the ceiling of this machine and this load generator).
Goals: RSS growth <= 10 % after the first minute, 0 lost.

``python -m bench.report_soak [--seconds 300] [--rate 1100] [--baseline-seconds 20]``
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import random
import re
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import percentile, process_cpu, process_memory, report
from bench.server import SECRET, server_process
from xiaozhi_server.sources.demo_content import CONVERSATIONS
from xiaozhi_server.sources.simulator import tone_wav

REPORT_PATH = "/xiaozhi/agent/chat-history/report"
WORKERS = 2
CONNECTIONS = 32  # per worker: far more than a steady rate needs, so a stall is measured
DEVICES = 250  # per worker
AUDIO_SHARE = 0.1  # of user and agent turns
AUDIO = base64.b64encode(tone_wav(0.25)).decode()  # 8 KB, 16 kHz mono 16-bit
SAMPLE_EVERY = 5.0  # seconds between RSS readings
WARMUP = 60.0  # RSS growth is measured from here to the end
TIMEOUT = 30.0
ACK = {"code": 0, "msg": "success", "data": True}  # stored (manager-api's envelope)
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)


@dataclass
class Tally:
    """What one load process saw; counts and latencies per minute of scheduled send time."""

    sent: list[int] = field(default_factory=list)
    acked: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    latencies_ms: list[list[float]] = field(default_factory=list)
    acked_with_audio: int = 0
    finished_s: float = 0.0  # last answer, seconds after the start
    cpu_s: float = 0.0  # the load processes' own CPU time

    def grow(self, minute: int) -> None:
        while len(self.sent) <= minute:
            self.sent.append(0)
            self.acked.append(0)
            self.failed.append(0)
            self.latencies_ms.append([])

    def merge(self, other: Tally) -> None:
        self.grow(len(other.sent) - 1)
        for minute in range(len(other.sent)):
            self.sent[minute] += other.sent[minute]
            self.acked[minute] += other.acked[minute]
            self.failed[minute] += other.failed[minute]
            self.latencies_ms[minute] += other.latencies_ms[minute]
        self.acked_with_audio += other.acked_with_audio
        self.finished_s = max(self.finished_s, other.finished_s)
        self.cpu_s += other.cpu_s


@dataclass(frozen=True)
class Load:
    """One worker's share of a run: ``rate`` requests/s in all, for ``seconds``."""

    host: str
    port: int
    path: str
    rate: float
    seconds: float
    start_at: float  # wall-clock time, the same for every worker
    worker: int
    workers: int


def device_turns(mac: str, rng: random.Random) -> Iterator[dict[str, Any]]:
    """One device's reports for ever: a session per conversation, turns in order."""
    last_ms = 0
    while True:
        session = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        for chat_type, content in rng.choice(CONVERSATIONS)[1]:
            # Strictly increasing per session, so no two turns share a natural key.
            last_ms = max(int(time.time() * 1000), last_ms + 1)
            audio = AUDIO if chat_type != 3 and rng.random() < AUDIO_SHARE else None
            yield {
                "macAddress": mac,
                "sessionId": session,
                "chatType": chat_type,
                "content": content,
                "audioBase64": audio,
                "reportTime": last_ms,
            }


def reports(worker: int) -> Iterator[dict[str, Any]]:
    """Report bodies from DEVICES devices talking at once, in random order."""
    rng = random.Random()
    devices = [
        device_turns(f"b0:50:00:{worker:02x}:{d // 256:02x}:{d % 256:02x}", rng)
        for d in range(DEVICES)
    ]
    while True:
        yield next(rng.choice(devices))


def http_request(load: Load, body: dict[str, Any] | None) -> bytes:
    """One HTTP/1.1 keep-alive request, as bytes."""
    payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    method = "GET" if body is None else "POST"
    return (
        f"{method} {load.path} HTTP/1.1\r\nHost: {load.host}:{load.port}\r\n"
        f"Authorization: Bearer {SECRET}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


class Connections:
    """Keep-alive connections to the server; a request waits for a free one.

    A bare HTTP/1.1 exchange instead of an HTTP library: httpx took ~2.4 ms of CPU per
    request here against ~75 µs for this, and on two cores the load generator would
    otherwise take the server's share.
    """

    def __init__(self, load: Load) -> None:
        self._load = load
        self._idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None]
        self._idle = asyncio.Queue()
        for _ in range(CONNECTIONS):
            self._idle.put_nowait(None)  # opened on first use

    async def exchange(self, request: bytes) -> tuple[int, bytes]:
        """Send ``request`` once a connection is free; return the status and body.

        The time waiting for a connection counts in the latency but not in TIMEOUT: a
        request fails only if the server took too long once it had it.
        """
        connection = await self._idle.get()
        try:
            async with asyncio.timeout(TIMEOUT):
                if connection is None:
                    connection = await asyncio.open_connection(self._load.host, self._load.port)
                reader, writer = connection
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = _LENGTH.search(head)
                body = await reader.readexactly(int(length.group(1)) if length else 0)
        except BaseException:
            if connection is not None:  # a late answer must not be read as the next one's
                connection[1].close()
            connection = None
            raise
        finally:
            self._idle.put_nowait(connection)
        return int(head[9:12]), body


async def drive(load: Load) -> Tally:
    """Send this worker's share at its pace; count and time every answer."""
    tally, cpu_before = Tally(), time.process_time()
    connections = Connections(load)
    bodies = reports(load.worker) if load.path == REPORT_PATH else None
    interval = load.workers / load.rate
    start = time.monotonic() + (load.start_at - time.time()) + load.worker / load.rate
    pending: set[asyncio.Task[None]] = set()

    async def one(body: dict[str, Any] | None, minute: int, scheduled: float) -> None:
        try:
            status, answer = await connections.exchange(http_request(load, body))
            ok = status == 200 and (body is None or json.loads(answer) == ACK)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            ok = False
        tally.latencies_ms[minute].append((time.monotonic() - scheduled) * 1000)
        if ok:
            tally.acked[minute] += 1
            tally.acked_with_audio += body is not None and body["audioBase64"] is not None
        else:
            tally.failed[minute] += 1

    for n in range(int(load.seconds * load.rate / load.workers)):
        scheduled = start + n * interval
        await asyncio.sleep(scheduled - time.monotonic())
        minute = int((scheduled - start) // 60)
        tally.grow(minute)
        tally.sent[minute] += 1
        body = next(bodies) if bodies is not None else None
        task = asyncio.create_task(one(body, minute, scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    tally.finished_s = time.time() - load.start_at
    tally.cpu_s = time.process_time() - cpu_before
    return tally


def worker(load: Load) -> Tally:
    """A load process's entry point."""
    return asyncio.run(drive(load))


@dataclass
class Run:
    """A whole run's tally and the server's RSS readings (seconds from the start, bytes)."""

    tally: Tally
    rss: list[tuple[float, int]]
    server_cpu_s: float  # on a CPU
    server_wait_s: float  # runnable, waiting for a CPU


def run_load(base_url: str, pid: int, path: str, rate: float, seconds: float) -> Run:
    """WORKERS processes sending ``rate`` requests/s to ``path`` for ``seconds``."""
    host, port = base_url.removeprefix("http://").split(":")
    start_at = time.time() + 3  # time for the processes to start
    context = multiprocessing.get_context("spawn")
    ran, waited = process_cpu(pid)
    with ProcessPoolExecutor(WORKERS, mp_context=context) as pool:
        loads = [
            Load(host, int(port), path, rate, seconds, start_at, n, WORKERS) for n in range(WORKERS)
        ]
        futures: list[Future[Tally]] = [pool.submit(worker, load) for load in loads]
        rss = []
        while wait(futures, timeout=SAMPLE_EVERY).not_done:
            rss.append((time.time() - start_at, process_memory(pid)))
        rss.append((time.time() - start_at, process_memory(pid)))
    tally = Tally()
    for future in futures:
        tally.merge(future.result())
    ran_after, waited_after = process_cpu(pid)
    return Run(tally, rss, ran_after - ran, waited_after - waited)


def latency(latencies: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(list(latencies), 50), 1),
        "p99_ms": round(percentile(list(latencies), 99), 1),
    }


def per_minute(run: Run) -> list[dict[str, Any]]:
    """Counts, latency and the last RSS reading of each minute."""
    rows = []
    for minute, latencies in enumerate(run.tally.latencies_ms):
        readings = [rss for t, rss in run.rss if t < (minute + 1) * 60] or [0]
        rows.append(
            {
                "minute": minute + 1,
                "sent": run.tally.sent[minute],
                "acked": run.tally.acked[minute],
                "failed": run.tally.failed[minute],
                **latency(latencies),
                "rss_mb": round(readings[-1] / 2**20, 1),
            }
        )
    return rows


def totals(run: Run) -> dict[str, Any]:
    """Counts and latency of a whole run, its pace (until the last answer) and CPU use."""
    latencies = [ms for minute in run.tally.latencies_ms for ms in minute]
    return {
        "sent": sum(run.tally.sent),
        "acked": sum(run.tally.acked),
        "failed": sum(run.tally.failed),
        "acked_per_s": round(sum(run.tally.acked) / run.tally.finished_s, 1),
        **latency(latencies),
        "server_cpu_pct": round(run.server_cpu_s / run.tally.finished_s * 100),
        "server_waiting_for_cpu_pct": round(run.server_wait_s / run.tally.finished_s * 100),
        "load_cpu_pct": round(run.tally.cpu_s / run.tally.finished_s * 100),
    }


def memory(run: Run, seconds: float) -> dict[str, Any]:
    """RSS after the warm-up (first minute, or a third of a shorter run) and at the end."""
    warmup = min(WARMUP, seconds / 3)
    warm = next(rss for t, rss in run.rss if t >= warmup)
    end = run.rss[-1][1]
    return {
        "warmup_s": warmup,
        "rss_mb_after_warmup": round(warm / 2**20, 1),
        "rss_mb_at_end": round(end / 2**20, 1),
        "rss_growth_pct": round((end - warm) / warm * 100, 1),
    }


def stored(db: Path) -> dict[str, int]:
    """Rows in the store's message and audio tables."""
    with sqlite3.connect(db) as connection:
        messages = connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        audio = connection.execute("SELECT COUNT(*) FROM audio").fetchone()[0]
    return {"messages": messages, "audio": audio}


def measure(rate: float, seconds: float, baseline_seconds: float) -> dict[str, Any]:
    """Baseline, then the soak, on one server; count the rows once it has stopped."""
    with tempfile.TemporaryDirectory() as scratch:
        with server_process(Path(scratch)) as (base_url, pid):
            baseline = run_load(base_url, pid, "/healthz", rate, baseline_seconds)
            soak = run_load(base_url, pid, REPORT_PATH, rate, seconds)
            peak = process_memory(pid, "VmHWM")
        rows = stored(Path(scratch) / "bench.db")
    figures, healthz, growth = totals(soak), totals(baseline), memory(soak, seconds)
    lost = max(0, figures["acked"] - rows["messages"])
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "soak": figures,
        "per_minute": per_minute(soak),
        **growth,
        "rss_mb_peak": round(peak / 2**20, 1),
        "rows_in_store": rows["messages"],
        "lost": lost,
        "stored_not_acked": max(0, rows["messages"] - figures["acked"]),
        "audio_acked": soak.tally.acked_with_audio,
        "audio_rows": rows["audio"],
        "baseline_healthz": {"seconds": baseline_seconds, **healthz},
        "ratio_acked_per_s": round(figures["acked_per_s"] / healthz["acked_per_s"], 3),
        "p99_over_baseline_p99": round(figures["p99_ms"] / healthz["p99_ms"], 1),
        "goals": {"rss_growth_pct": 10, "lost": 0},
        "goals_met": growth["rss_growth_pct"] <= 10 and lost == 0,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, measure, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.report_soak")
    parser.add_argument("--seconds", type=float, default=300, help="soak length")
    parser.add_argument("--rate", type=float, default=1100, help="requests/s, both runs")
    parser.add_argument("--baseline-seconds", type=float, default=20, help="/healthz run length")
    args = parser.parse_args(argv)
    report("report_soak", measure(args.rate, args.seconds, args.baseline_seconds))


if __name__ == "__main__":
    main()
