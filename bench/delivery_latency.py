"""Delivery: report sent → its event received by every WebSocket subscriber, at 100 reports/s.

The server runs in a process of its own, the subscribers in ``SUBSCRIBER_PROCESSES`` others
(bench/feed_subscribers.py), the reports leave from this one; a latency runs from sending a
report to a subscriber receiving its ``chat_update``. Measured in one run:

- the feed with 100 and with 1,000 subscribers (goals: every event delivered, p99 <= 50 ms
  and <= 250 ms);
- 1,000 subscribers plus 10 clients that never read (goals: the others' p99 within 10 % of
  the run without them; the stalled clients closed with 4408 once their queue is full, and
  a resume from the last id each saw brings every turn, none twice);
- the ceiling: a bare ``websockets`` broadcast (bench/bare_broadcast.py) of the same frames
  at the same rate to the same subscribers; the feed server's CPU time per delivered event
  against it (goal <= 2x): the whole server process (/proc), which also takes the reports
  (HTTP, the store), and the fan-out's own count (``xiaozhi_feed_fanout_cpu_seconds``);
- the same reports with nobody subscribed: the report endpoint's own latency and CPU;
- optionally (``--workers``) the 1,000 subscribers on ``serve`` with two workers.

Runs with and without the stalled clients alternate, twice; the better of each is kept.
``--quick`` runs everything small, to try the benchmark out.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from tests.support.feed_client import next_of, receive
from tests.support.stalled_client import StalledClient
from websockets.asyncio.client import connect

from bench import bare_broadcast, feed_subscribers
from bench.common import percentile, report
from bench.feed_subscribers import Arrivals
from bench.process_cpu import tree_cpu_seconds, tree_wait_seconds
from bench.report_sender import ReportSender
from bench.server import SECRET, TOKEN, server_process

RATE = 100
SECONDS = 15
SUBSCRIBER_PROCESSES = 4
STALLED = 10
GOAL_P99_MS = {100: 50.0, 1000: 250.0}
GOAL_STALLED_CHANGE = 0.10
GOAL_CPU_RATIO = 2.0
SUBSCRIBE = json.dumps({"type": "subscribe", "filters": {"types": ["chat_update"]}})
SERVER_ENV = {
    "XIAOZHI_NOTIFICATION__QUEUE_SIZE": "1000",  # the default
    # long enough for the stalled clients to read their close code after the run
    "XIAOZHI_NOTIFICATION__HEARTBEAT_SECONDS": "60",
}
DRAIN_SECONDS = 30.0
WARM_UP = 20  # reports before the measured ones
SENDERS = 16
SETUP_SECONDS = 120.0


@dataclass
class Scale:
    """How big a run is."""

    seconds: int = SECONDS
    small: int = 100
    large: int = 1000
    stalled: int = STALLED

    @property
    def events(self) -> int:
        """Turns reported per run."""
        return RATE * self.seconds


@dataclass
class Run:
    """What one round measured."""

    latencies: list[float]
    expected: int
    cpu_seconds: float
    load: float
    fanout: list[float] = field(default_factory=list)  # publish → receipt, of the probes
    workers: dict[int, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls, results: list[Arrivals], sent: list[float], expected: int, cpu: float, load: float
    ) -> Run:
        """The round whose subscribers noted ``results`` for reports sent at ``sent``."""
        return cls(
            latencies(results, sent),
            expected,
            cpu,
            load,
            fanout_latencies(results),
            per_worker(results),
        )

    def figures(self, goal: float | None = None) -> dict[str, Any]:
        """The JSON figures of this round."""
        if not self.expected:  # nobody subscribed: only what taking the reports cost
            return {
                "server_cpu_s": round(self.cpu_seconds, 2),
                "load_1min": round(self.load, 2),
            } | self.extra
        deliveries = len(self.latencies)
        figures: dict[str, Any] = {
            "reports_per_s": RATE,
            "deliveries": deliveries,
            "expected_deliveries": self.expected,
            "p50_ms": round(percentile(self.latencies, 50), 1),
            "p99_ms": round(percentile(self.latencies, 99), 1),
            "max_ms": round(max(self.latencies, default=float("nan")), 1),
            "publish_to_receipt_p50_ms": round(percentile(self.fanout, 50), 1),
            "publish_to_receipt_p99_ms": round(percentile(self.fanout, 99), 1),
            "server_cpu_s": round(self.cpu_seconds, 2),
            "cpu_us_per_delivery": round(self.cpu_us_per_delivery, 2),
            "load_1min": round(self.load, 2),
            **self.extra,
        }
        if goal is not None:
            figures["goal_p99_ms"] = goal
            figures["goal_met"] = deliveries == self.expected and figures["p99_ms"] <= goal
        if len(self.workers) > 1:
            figures["subscribers_per_worker"] = dict(sorted(self.workers.items()))
        return figures

    @property
    def cpu_us_per_delivery(self) -> float:
        """Server CPU time per delivered event, in microseconds."""
        return self.cpu_seconds / max(1, len(self.latencies)) * 1e6


class Subscribers:
    """Subscriber processes sharing ``count`` connections between them."""

    def __init__(self, url: str, count: int, events: int, command: str | None, mark: bytes):
        share = [count // SUBSCRIBER_PROCESSES] * SUBSCRIBER_PROCESSES
        for extra in range(count % SUBSCRIBER_PROCESSES):
            share[extra] += 1
        self._started = [
            feed_subscribers.start(feed_subscribers.Plan(url, n, events, command, mark))
            for n in share
            if n
        ]
        self.cpu_seconds = 0.0

    async def ready(self) -> None:
        """Every connection is set up."""
        for _process, pipe in self._started:
            if not await asyncio.to_thread(pipe.poll, SETUP_SECONDS):
                raise RuntimeError("subscribers could not connect")
            assert pipe.recv() == "ready"
        self.cpu_seconds = -self._cpu()

    def _cpu(self) -> float:
        return sum(tree_cpu_seconds(process.pid or 0) for process, _pipe in self._started)

    async def finish(self, within: float) -> list[Arrivals]:
        """Wait until every event arrived everywhere (or ``within`` s); collect the times."""
        deadline = time.monotonic() + within
        for _process, pipe in self._started:
            await asyncio.to_thread(pipe.poll, max(0.0, deadline - time.monotonic()))
        results: list[Arrivals] = []
        self.cpu_seconds += self._cpu()  # from ready to now
        for process, pipe in self._started:
            pipe.send("stop")
            while not isinstance(answer := await asyncio.to_thread(pipe.recv), list):
                pass  # a "done" sent before the stop
            results += answer
            await asyncio.to_thread(process.join)
        return results


def latencies(results: list[Arrivals], sent: list[float]) -> list[float]:
    """Milliseconds from each send to each arrival (turns that never arrived left out)."""
    found: list[float] = []
    for result in results:
        arrived = memoryview(result.arrived).cast("d")
        found += [(at - sent[n]) * 1000 for n, at in enumerate(arrived) if at]
    return found


def fanout_latencies(results: list[Arrivals]) -> list[float]:
    """Milliseconds from the server publishing each event to a probe receiving it."""
    wall = time.time() - time.perf_counter()  # one moment on both clocks
    found: list[float] = []
    for result in results:
        if result.published is None:
            continue
        arrived = memoryview(result.arrived).cast("d")
        published = memoryview(result.published).cast("d")
        found += [(at + wall - published[n]) * 1000 for n, at in enumerate(arrived) if at]
    return found


def per_worker(results: list[Arrivals]) -> dict[int, int]:
    """How many subscribers each worker served."""
    counts: dict[int, int] = {}
    for result in results:
        counts[result.worker] = counts.get(result.worker, 0) + 1
    return counts


@dataclass
class Sent:
    """When each measured report left, and how long its answer took (ms)."""

    at: list[float]
    answered_ms: list[float]


async def send_reports(base_url: str, events: int) -> Sent:
    """``events`` reports at RATE per second, paced by the clock, after WARM_UP more (new
    connections, first statements); when each measured one was sent.

    SENDERS connections take the turns in order, each at its time, speaking plain HTTP/1.1
    (bench/report_sender.py): httpx spent 3 ms of CPU per report here, and this process
    shares the machine with the server it measures.
    """
    session = uuid.uuid4().hex
    sent = Sent([0.0] * events, [])
    turns = iter(range(-WARM_UP, events))
    start = time.perf_counter() + 0.2 + WARM_UP / RATE

    async def sender() -> None:
        async with ReportSender(base_url, SECRET) as connection:
            for n in turns:
                await asyncio.sleep(max(0.0, start + n / RATE - time.perf_counter()))
                body = {
                    "macAddress": "a0:85:e3:00:00:01",
                    "sessionId": session,
                    "chatType": 1,
                    "content": f"bench-{n}" if n >= 0 else f"warm-up{n}",
                    "audioBase64": None,
                    "reportTime": int(time.time() * 1000),
                }
                leaving = time.perf_counter()
                await connection.report(body)
                if n >= 0:
                    sent.at[n] = leaving
                    sent.answered_ms.append((time.perf_counter() - leaving) * 1000)

    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return sent


async def publish_bare(port: int, events: int) -> list[float]:
    """The same pace to the bare server: one message per turn, it broadcasts the frame
    (negative numbers, the warm-up, are not counted by the subscribers)."""
    sent = [0.0] * events
    async with connect(f"ws://127.0.0.1:{port}/publish", compression=None) as publisher:
        start = time.perf_counter() + 0.2 + WARM_UP / RATE
        for n in range(-WARM_UP, events):
            await asyncio.sleep(max(0.0, start + n / RATE - time.perf_counter()))
            if n >= 0:
                sent[n] = time.perf_counter()
            await publisher.send(str(n))
    return sent


async def stalled_outcome(clients: list[StalledClient], ws_url: str, events: int) -> dict[str, int]:
    """Read each stalled client at last: was it closed with 4408, and does a resume from
    the last id it saw bring every turn, none twice?"""
    closed = whole = 0
    everything = [f"bench-{n}" for n in range(events)]
    for client in clients:
        messages = await client.read_all(quiet=2.0)
        closed += client.close_code == 4408
        chats = [m["data"] for m in messages if m["type"] == "chat_update"]
        since = chats[-1]["id"] if chats else messages[0]["data"]["last_message_id"]
        seen = [chat["content"] for chat in chats] + await resumed(ws_url, since)
        measured = [content for content in seen if content.startswith("bench-")]
        whole += sorted(measured, key=lambda c: int(c.removeprefix("bench-"))) == everything
    return {"stalled_clients": len(clients), "closed_4408": closed, "resumed_whole": whole}


async def resumed(ws_url: str, since: int) -> list[str]:
    """The contents a resume from ``since`` replays."""
    async with connect(ws_url, max_size=None) as feed:
        await next_of(feed, "welcome")
        await feed.send(json.dumps({"type": "resume", "since": since}))
        contents: list[str] = []
        while (message := await receive(feed))["type"] != "resumed":
            if message["type"] == "chat_update":
                contents.append(message["data"]["content"])
        return contents


def fanout_cpu_seconds(base_url: str) -> float:
    """The server's own count of CPU time spent in the feed's fan-out (one worker's)."""
    with urllib.request.urlopen(f"{base_url}/metrics", timeout=30) as answer:
        for line in answer.read().decode().splitlines():
            if line.startswith("xiaozhi_feed_fanout_cpu_seconds_total "):
                return float(line.split()[1])
    return float("nan")


@contextmanager
def feed_server(workers: int = 1) -> Iterator[tuple[str, int]]:
    """A fresh ``serve`` (fresh store); its base URL and process id."""
    env = SERVER_ENV | {"XIAOZHI_SERVER__WORKERS": str(workers)}
    with tempfile.TemporaryDirectory() as scratch, server_process(Path(scratch), **env) as found:
        yield found


async def every_worker_up(ws_url: str, workers: int) -> None:
    """Wait until each worker answers (the port opens with the first one)."""
    seen: set[int] = set()
    while len(seen) < workers:
        async with connect(ws_url) as feed:
            seen.add((await next_of(feed, "welcome", within=60))["data"]["worker"])
        await asyncio.sleep(0.1)


async def feed_round(scale: Scale, count: int, stalled: int = 0, workers: int = 1) -> Run:
    """The feed with ``count`` subscribers (and ``stalled`` clients that never read)."""
    with feed_server(workers) as (base_url, pid):
        ws_url = base_url.replace("http://", "ws://") + f"/ws/admin?token={TOKEN}"
        if workers > 1:
            await every_worker_up(ws_url, workers)
        async with AsyncExitStack() as stack:
            frozen = [StalledClient(ws_url) for _ in range(stalled)]
            for client in frozen:
                await client.open()
                stack.callback(client.close)
            subscribers = Subscribers(ws_url, count, scale.events, SUBSCRIBE, b'"subscribed"')
            await subscribers.ready()
            load, cpu, own = os.getloadavg()[0], tree_cpu_seconds(pid), time.process_time()
            fanout, waited = fanout_cpu_seconds(base_url), tree_wait_seconds(pid)
            sent = await send_reports(base_url, scale.events)
            results = await subscribers.finish(DRAIN_SECONDS) if count else []
            cpu = tree_cpu_seconds(pid) - cpu
            fanout = fanout_cpu_seconds(base_url) - fanout
            run = Run.of(results, sent.at, count * scale.events, cpu, load)
            run.extra = clients_cpu(subscribers, time.process_time() - own) | answers(sent)
            run.extra["server_waited_for_cpu_s"] = round(tree_wait_seconds(pid) - waited, 2)
            if workers == 1:  # /metrics speaks for the worker that answers
                run.extra["fanout_cpu_us_per_delivery"] = round(
                    fanout / max(1, len(run.latencies)) * 1e6, 2
                )
            if frozen:
                run.extra |= await stalled_outcome(frozen, ws_url, scale.events)
    return run


def answers(sent: Sent) -> dict[str, float]:
    """How long the report endpoint took to answer (the store's commit is in it)."""
    return {
        "report_answer_p50_ms": round(percentile(sent.answered_ms, 50), 1),
        "report_answer_p99_ms": round(percentile(sent.answered_ms, 99), 1),
    }


def clients_cpu(subscribers: Subscribers, sender: float) -> dict[str, float]:
    """CPU seconds the measuring side spent (it shares the machine with the server)."""
    return {
        "subscribers_cpu_s": round(subscribers.cpu_seconds, 2),
        "sender_cpu_s": round(sender, 2),
    }


async def idle_round(scale: Scale) -> Run:
    """The same reports with nobody subscribed: what taking them costs the server."""
    with feed_server() as (base_url, pid):
        load, cpu = os.getloadavg()[0], tree_cpu_seconds(pid)
        sent = await send_reports(base_url, scale.events)
        await asyncio.sleep(0.5)
        return Run([], 0, tree_cpu_seconds(pid) - cpu, load, extra=answers(sent))


async def bare_round(scale: Scale, count: int) -> Run:
    """The bare broadcast of the same frames to ``count`` subscribers."""
    process, port = bare_broadcast.start()
    try:
        subscribers = Subscribers(
            f"ws://127.0.0.1:{port}/", count, scale.events, None, b'"welcome"'
        )
        await subscribers.ready()
        pid = process.pid or 0
        load, own = os.getloadavg()[0], time.process_time()
        cpu, waited = tree_cpu_seconds(pid), tree_wait_seconds(pid)
        sent = await publish_bare(port, scale.events)
        results = await subscribers.finish(DRAIN_SECONDS)
        cpu, waited = tree_cpu_seconds(pid) - cpu, tree_wait_seconds(pid) - waited
    finally:
        process.terminate()
        process.join()
    run = Run.of(results, sent, count * scale.events, cpu, load)
    run.extra = clients_cpu(subscribers, time.process_time() - own)
    run.extra["server_waited_for_cpu_s"] = round(waited, 2)
    return run


def ratio(part: float, whole: float) -> float:
    """``part / whole`` rounded for the report."""
    return round(part / whole, 2) if whole else float("nan")


def emit(scenario: str, subscribers: int, run: Run, goal: float | None = None) -> None:
    """One JSON line for one round."""
    figures = {"scenario": scenario, "subscribers": subscribers, **run.figures(goal)}
    report("delivery_latency", figures)


def best(runs: list[Run]) -> Run:
    """The round with the lowest p99 (the machine is shared: noise only ever adds)."""
    return min(runs, key=lambda run: percentile(run.latencies, 99))


def cpu_comparison(feed: Run, bare: Run, subscribers: int) -> dict[str, Any]:
    """Feed against bare broadcast: server CPU per delivered event, in total (the feed's
    server also takes the reports: HTTP, the store) and the fan-out's own (its count)."""
    fanout = feed.extra["fanout_cpu_us_per_delivery"]
    return {
        f"cpu_us_per_delivery_{subscribers}": round(feed.cpu_us_per_delivery, 2),
        f"fanout_cpu_us_per_delivery_{subscribers}": fanout,
        f"bare_cpu_us_per_delivery_{subscribers}": round(bare.cpu_us_per_delivery, 2),
        f"cpu_ratio_{subscribers}": ratio(feed.cpu_us_per_delivery, bare.cpu_us_per_delivery),
        f"fanout_cpu_ratio_{subscribers}": ratio(fanout, bare.cpu_us_per_delivery),
    }


def latency_summary(small: Run, large: Run, frozen: Run, scale: Scale) -> dict[str, Any]:
    """The latency goals, with the better of the repeated rounds."""
    p99 = {
        name: percentile(run.latencies, 99)
        for name, run in (("small", small), ("large", large), ("frozen", frozen))
    }
    change = p99["frozen"] / p99["large"] - 1
    stalled_ok = frozen.extra["closed_4408"] == frozen.extra["resumed_whole"] == scale.stalled
    return {
        f"p99_ms_{scale.small}": round(p99["small"], 1),
        f"goal_met_{scale.small}": small.figures(GOAL_P99_MS[100])["goal_met"],
        f"p99_ms_{scale.large}": round(p99["large"], 1),
        f"goal_met_{scale.large}": large.figures(GOAL_P99_MS[1000])["goal_met"],
        f"p99_ms_{scale.large}_with_stalled": round(p99["frozen"], 1),
        "stalled_p99_change": round(change, 3),
        "stalled_closed_4408": frozen.extra["closed_4408"],
        "stalled_resumed_whole": frozen.extra["resumed_whole"],
        "stalled_goal_met": change <= GOAL_STALLED_CHANGE and stalled_ok,
    }


async def measure(scale: Scale, workers: bool) -> None:
    """Every round, one JSON object each, then the comparisons."""
    small = await feed_round(scale, scale.small)
    emit("feed", scale.small, small, GOAL_P99_MS[100])
    plain: list[Run] = []
    stalled: list[Run] = []
    for _ in range(2):
        plain.append(await feed_round(scale, scale.large))
        emit("feed", scale.large, plain[-1], GOAL_P99_MS[1000])
        stalled.append(await feed_round(scale, scale.large, scale.stalled))
        emit(f"feed + {scale.stalled} stalled", scale.large, stalled[-1], GOAL_P99_MS[1000])
    bare_small = await bare_round(scale, scale.small)
    emit("bare broadcast", scale.small, bare_small)
    bare_large = await bare_round(scale, scale.large)
    emit("bare broadcast", scale.large, bare_large)
    idle = await idle_round(scale)
    emit("no subscribers", 0, idle)
    if workers:
        emit("feed, 2 workers", scale.large, await feed_round(scale, scale.large, workers=2))
    large = best(plain)
    cpu = cpu_comparison(small, bare_small, scale.small)
    cpu |= cpu_comparison(large, bare_large, scale.large)
    summary: dict[str, Any] = {
        "scenario": "summary",
        **latency_summary(small, large, best(stalled), scale),
        **cpu,
        "cpu_goal_met": all(
            cpu[f"fanout_cpu_ratio_{n}"] <= GOAL_CPU_RATIO for n in (scale.small, scale.large)
        ),
        "goal_cpu_ratio": GOAL_CPU_RATIO,
    }
    report("delivery_latency", summary)


def main(quick: bool = False, workers: bool = False) -> None:
    """The whole benchmark (``quick``: tiny, to try it; ``workers``: add a 2-worker round)."""
    scale = Scale(seconds=2, small=10, large=40, stalled=2) if quick else Scale()
    uvloop.install()  # as the server and the subscribers: less CPU taken from them
    asyncio.run(measure(scale, workers))


if __name__ == "__main__":
    main(quick="--quick" in sys.argv, workers="--workers" in sys.argv)
