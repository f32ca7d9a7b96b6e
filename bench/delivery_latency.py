"""Delivery: report sent → chat_update received by every WebSocket subscriber, p50/p99,
with 100 and 1,000 subscribers at 100 reports/s. Goals: p99 <= 50 ms at 100 subscribers,
<= 100 ms at 1,000. Subscribers run in this process, the server in its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.common import percentile, report
from bench.server import SECRET, TOKEN, running_server

RATE = 100
SUBSCRIBER_COUNTS = (100, 1000)
SECONDS = 3
HEADERS = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
MARK = '"content": "bench-'


class Tally:
    """Latencies as they arrive; ``complete`` is set once every expected one is in."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.latencies: list[float] = []
        self.sent: dict[int, float] = {}
        self.complete = asyncio.Event()

    def received(self, n: int, at: float) -> None:
        self.latencies.append((at - self.sent[n]) * 1000)
        if len(self.latencies) >= self.expected:
            self.complete.set()


async def subscriber(url: str, tally: Tally) -> ClientConnection:
    connection = await connect(url, max_queue=None)
    await connection.send(json.dumps({"type": "subscribe", "filters": {"types": ["chat_update"]}}))
    while json.loads(await connection.recv())["type"] != "subscribed":
        pass

    async def receive() -> None:
        async for text in connection:
            at = time.perf_counter()
            start = str(text).find(MARK)
            if start >= 0:
                n = int(str(text)[start + len(MARK) : str(text).index('"', start + len(MARK))])
                tally.received(n, at)

    asyncio.get_running_loop().create_task(receive())
    return connection


async def send_reports(base_url: str, sent: dict[int, float]) -> None:
    url = f"{base_url}/xiaozhi/agent/chat-history/report"
    session = uuid.uuid4().hex
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(n: int, scheduled: float) -> None:
            await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            body = {
                "macAddress": "a0:85:e3:00:00:01",
                "sessionId": session,
                "chatType": 1,
                "content": f"bench-{n}",
                "audioBase64": None,
                "reportTime": int(time.time() * 1000),
            }
            sent[n] = time.perf_counter()
            await client.post(url, json=body, headers=HEADERS)

        start = time.perf_counter() + 0.2
        await asyncio.gather(*(one(n, start + n / RATE) for n in range(RATE * SECONDS)))


async def measure(base_url: str, subscribers: int) -> dict[str, float]:
    ws_url = base_url.replace("http://", "ws://") + f"/ws/admin?token={TOKEN}"
    tally = Tally(subscribers * RATE * SECONDS)
    connections = [await subscriber(ws_url, tally) for _ in range(subscribers)]
    await send_reports(base_url, tally.sent)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.complete.wait(), 30)
    for connection in connections:
        await connection.close()
    return {
        "subscribers": subscribers,
        "reports_per_s": RATE,
        "deliveries": len(tally.latencies),
        "expected_deliveries": tally.expected,
        "p50_ms": round(percentile(tally.latencies, 50), 1),
        "p99_ms": round(percentile(tally.latencies, 99), 1),
        "goal_p99_ms": 50 if subscribers <= 100 else 100,
    }


def main() -> None:
    """One server per subscriber count; one JSON object each."""
    for subscribers in SUBSCRIBER_COUNTS:
        with tempfile.TemporaryDirectory() as scratch, running_server(Path(scratch)) as base_url:
            figures = asyncio.run(measure(base_url, subscribers))
        report("delivery_latency", figures)


if __name__ == "__main__":
    main()
