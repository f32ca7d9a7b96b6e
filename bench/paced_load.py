"""A steady, clock-paced HTTP load from processes of its own, with every answer counted.

Open loop: each request has a scheduled send time and its latency is measured from it, so
a stalled server shows as latency instead of slowing the sender down. Counts and latencies
are kept per minute of scheduled time.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from bench.common import process_cpu, tree_memory
from bench.server import SECRET

WORKERS = 2
CONNECTIONS = 32  # per worker: far more than a steady rate needs, so a stall is measured
TIMEOUT = 30.0
SAMPLE_EVERY = 5.0  # seconds between readings of the server's RSS
ACK = {"code": 0, "msg": "success", "data": True}  # manager-api's envelope: stored
_LENGTH = re.compile(rb"content-length:\s*(\d+)", re.IGNORECASE)

Bodies = Callable[[int], Iterator[dict[str, Any]]]  # worker number → JSON bodies to POST


@dataclass(frozen=True)
class Load:
    """One worker's share: ``rate`` requests/s in all, for ``seconds``; GET if no bodies."""

    host: str
    port: int
    path: str
    rate: float
    seconds: float
    start_at: float  # wall-clock time, the same for every worker
    worker: int
    bodies: Bodies | None


@dataclass
class Minute:
    """What became of the requests scheduled in one minute."""

    acked: int = 0  # 200 and, for a POST, ACK
    failed: int = 0  # anything else, or no answer within TIMEOUT
    not_sent: int = 0  # no free connection within TIMEOUT: the server was that far behind
    acked_with_audio: int = 0
    latencies_ms: list[float] = field(default_factory=list)  # of the acked and the failed

    def add(self, other: Minute) -> None:
        self.acked += other.acked
        self.failed += other.failed
        self.not_sent += other.not_sent
        self.acked_with_audio += other.acked_with_audio
        self.latencies_ms += other.latencies_ms


@dataclass
class Tally:
    """A run's minutes, when its last answer came (seconds after the start) and the load
    processes' own CPU time."""

    minutes: list[Minute] = field(default_factory=list)
    finished_s: float = 0.0
    cpu_s: float = 0.0

    def minute(self, n: int) -> Minute:
        while len(self.minutes) <= n:
            self.minutes.append(Minute())
        return self.minutes[n]

    def merge(self, other: Tally) -> None:
        for n, minute in enumerate(other.minutes):
            self.minute(n).add(minute)
        self.finished_s = max(self.finished_s, other.finished_s)
        self.cpu_s += other.cpu_s


class NotSent(Exception):
    """No connection became free within TIMEOUT."""


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
        """Send ``request`` once a connection is free; return the status and body."""
        try:
            connection = await asyncio.wait_for(self._idle.get(), TIMEOUT)
        except TimeoutError:
            raise NotSent from None
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


def http_request(load: Load, body: dict[str, Any] | None) -> bytes:
    """One HTTP/1.1 keep-alive request, as bytes."""
    payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    return (
        f"{'GET' if body is None else 'POST'} {load.path} HTTP/1.1\r\n"
        f"Host: {load.host}:{load.port}\r\nAuthorization: Bearer {SECRET}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


async def drive(load: Load, workers: int) -> Tally:
    """Send this worker's share at its pace; count and time every answer."""
    tally, cpu_before = Tally(), time.process_time()
    connections = Connections(load)
    bodies = load.bodies(load.worker) if load.bodies is not None else None
    interval = workers / load.rate
    # Workers take turns: together they send one request every 1/rate seconds.
    start = time.monotonic() + (load.start_at - time.time()) + load.worker / load.rate
    pending: set[asyncio.Task[None]] = set()

    async def one(body: dict[str, Any] | None, minute: Minute, scheduled: float) -> None:
        try:
            status, answer = await connections.exchange(http_request(load, body))
            ok = status == 200 and (body is None or json.loads(answer) == ACK)
        except NotSent:
            minute.not_sent += 1
            return
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
            ok = False
        minute.latencies_ms.append((time.monotonic() - scheduled) * 1000)
        if not ok:
            minute.failed += 1
            return
        minute.acked += 1
        if body is not None and body.get("audioBase64") is not None:
            minute.acked_with_audio += 1

    for n in range(int(load.seconds * load.rate / workers)):
        scheduled = start + n * interval
        await asyncio.sleep(scheduled - time.monotonic())
        body = next(bodies) if bodies is not None else None
        task = asyncio.create_task(one(body, tally.minute(int(n * interval // 60)), scheduled))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    tally.finished_s = time.time() - load.start_at
    tally.cpu_s = time.process_time() - cpu_before
    return tally


def worker(load: Load, workers: int) -> Tally:
    """A load process's entry point."""
    return asyncio.run(drive(load, workers))


@dataclass
class Run:
    """A whole run: the tally, the server's RSS readings (seconds from the start, bytes),
    and the server's time on a CPU and waiting for one (runnable while all were busy)."""

    tally: Tally
    rss: list[tuple[float, int]]
    server_cpu_s: float
    server_wait_s: float


def tree_cpu(pid: int) -> tuple[float, float]:
    """``process_cpu`` of the server and its writer process, summed."""
    times = [process_cpu(p) for p in tree_memory(pid)]
    return sum(t[0] for t in times), sum(t[1] for t in times)


def run_load(
    base_url: str, pid: int, path: str, rate: float, seconds: float, bodies: Bodies | None
) -> Run:
    """WORKERS processes sending ``rate`` requests/s in all to ``path`` for ``seconds``,
    while this process reads the RSS of the server (process ``pid`` and its SQLite writer
    process, summed)."""
    host, port = base_url.removeprefix("http://").split(":")
    start_at = time.time() + 3  # time for the processes to start
    ran, waited = tree_cpu(pid)
    with ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures: list[Future[Tally]] = [
            pool.submit(
                worker, Load(host, int(port), path, rate, seconds, start_at, n, bodies), WORKERS
            )
            for n in range(WORKERS)
        ]
        rss = []
        while wait(futures, timeout=SAMPLE_EVERY).not_done:
            rss.append((time.time() - start_at, sum(tree_memory(pid).values())))
        rss.append((time.time() - start_at, sum(tree_memory(pid).values())))
    tally = Tally()
    for future in futures:
        tally.merge(future.result())
    ran_after, waited_after = tree_cpu(pid)
    return Run(tally, rss, ran_after - ran, waited_after - waited)
