"""Read API latency at scale, next to manager-api's own session-page query.

1,000,000 messages, 1,000 devices, 100,000 sessions, 20 agents — loaded through ingest into
the hub's store (SQLite, then MariaDB) and, as rows shaped like ``ai_agent_chat_history``,
into a MariaDB table the way manager-api keeps them. Each endpoint is called over HTTP on a
real server process; manager-api's session page is its SQL (GROUP BY session_id over the
agent's rows, ORDER BY MAX(created_at), LIMIT 10, a COUNT for the total, one title lookup
per session) run on the same MariaDB server. Goals: the hub's sessions page >= 10x faster
than manager-api's query with p99 <= 10 ms; search p99 <= 100 ms.

``python -m bench.read_api [scale]`` (scale 1.0 = the sizes above; 0.05 for a quick look).
"""

from __future__ import annotations

import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncmy
import httpx
from tests.support.servers import MariaDB, running_mariadb

from bench.common import percentile, report
from bench.server import TOKEN, running_server
from xiaozhi_server.domain import Batch, MessageRecord, TitleRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store

AGENTS = 20
TURNS = 10
CALLS = 200
START = datetime(2026, 10, 1, tzinfo=UTC)
SHANGHAI = timedelta(hours=8)
PHRASES = [
    "今天天气怎么样",
    "给我讲个故事",
    "播放一首歌",
    "现在几点了",
    "明天会下雨吗",
    "What's the weather like",
    "tell me a joke",
    "set a timer for ten minutes",
    "帮我定个闹钟",
    "声音大一点",
    "你叫什么名字",
    "我们来学英语吧",
    "今天吃什么好呢",
    "how do you say apple in Chinese",
    "讲一个关于小狐狸的故事",
    "打开客厅的灯",
    "关掉音乐",
    "下周末去哪里玩",
    "数学作业怎么做",
    "晚安小智",
]
UPSTREAM_SCHEMA = [
    """CREATE TABLE ai_agent_chat_history (
        id BIGINT AUTO_INCREMENT PRIMARY KEY, mac_address VARCHAR(50), agent_id VARCHAR(32),
        session_id VARCHAR(50), chat_type TINYINT, content TEXT, audio_id VARCHAR(32),
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        INDEX idx_mac (mac_address), INDEX idx_session (session_id), INDEX idx_agent (agent_id),
        INDEX idx_agent_session_created (agent_id, session_id, created_at),
        INDEX idx_audio (audio_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE ai_agent_chat_title (
        id VARCHAR(32) PRIMARY KEY, session_id VARCHAR(255), title VARCHAR(255),
        created_at DATETIME, updated_at DATETIME, INDEX idx_session (session_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
]


class Dataset:
    """The synthetic deployment: who said what, when."""

    def __init__(self, scale: float) -> None:
        self.devices = max(10, int(1000 * scale))
        self.sessions = max(100, int(100_000 * scale))

    def mac(self, device: int) -> str:
        return f"a0:85:e3:{device // 65536:02x}:{device // 256 % 256:02x}:{device % 256:02x}"

    def agent(self, device: int) -> str:
        return f"agent-{device % AGENTS:02d}"

    def session_batches(
        self, per_batch: int = 500
    ) -> Iterator[tuple[Batch, list[tuple[Any, ...]]]]:
        """Ingest batches, each with the same rows as upstream tuples."""
        rng = random.Random(7)
        step = timedelta(days=30) / self.sessions
        for first in range(0, self.sessions, per_batch):
            batch, upstream = Batch(), []
            for session in range(first, min(first + per_batch, self.sessions)):
                device = rng.randrange(self.devices)
                session_id = f"session-{session:07d}"
                begin = START + step * session
                for turn in range(TURNS):
                    text = f"{rng.choice(PHRASES)} #{session}-{turn}"
                    at = begin + timedelta(seconds=3 * turn)
                    batch.messages.append(
                        MessageRecord(
                            self.mac(device),
                            session_id,
                            1 + turn % 2,
                            text,
                            at,
                            "bench",
                            agent_id=self.agent(device),
                        )
                    )
                    upstream.append(
                        (
                            self.mac(device),
                            self.agent(device),
                            session_id,
                            1 + turn % 2,
                            text,
                            (at + SHANGHAI).replace(tzinfo=None),
                        )
                    )
                batch.titles.append(TitleRecord(session_id, f"会话 {session}"))
            yield batch, upstream

    def messages(self) -> int:
        return self.sessions * TURNS


async def load_hub(url: str, data: Dataset) -> float:
    store = Store(url)
    await migrate.upgrade(store.engine)
    ingestor = Ingestor(store, EventBus())
    started = time.perf_counter()
    for batch, _ in data.session_batches():
        await ingestor.ingest(batch)
    await store.close()
    return time.perf_counter() - started


async def upstream_connection(server: MariaDB) -> Any:
    """A connection to the upstream-shaped database on the benchmark's MariaDB."""
    return await asyncmy.connect(
        host="127.0.0.1",
        port=server.port,
        user=server.user,
        password=server.password,
        database="upstream",
        autocommit=True,
    )


async def load_upstream(server: MariaDB, data: Dataset) -> None:
    server.sql("CREATE DATABASE upstream CHARACTER SET utf8mb4")
    connection = await upstream_connection(server)
    async with connection.cursor() as cursor:
        for statement in UPSTREAM_SCHEMA:
            await cursor.execute(statement)
        for batch, rows in data.session_batches():
            await cursor.executemany(
                "INSERT INTO ai_agent_chat_history"
                " (mac_address, agent_id, session_id, chat_type, content, created_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )
            await cursor.executemany(
                "INSERT INTO ai_agent_chat_title (id, session_id, title) VALUES (%s, %s, %s)",
                [(t.session_id[-32:], t.session_id, t.title) for t in batch.titles],
            )
    connection.close()


async def manager_api_session_page(server: MariaDB, calls: int) -> list[float]:
    """manager-api's session page, exactly as UPSTREAM.md describes it, timed in ms."""
    connection = await upstream_connection(server)
    rng, timings = random.Random(1), []
    async with connection.cursor() as cursor:
        for _ in range(calls):
            agent = f"agent-{rng.randrange(AGENTS):02d}"
            started = time.perf_counter()
            await cursor.execute(
                "SELECT session_id, MAX(created_at) AS created_at, COUNT(*) AS chat_count"
                " FROM ai_agent_chat_history WHERE agent_id = %s GROUP BY session_id"
                " ORDER BY created_at DESC LIMIT 10 OFFSET 0",
                (agent,),
            )
            page = await cursor.fetchall()
            await cursor.execute(
                "SELECT COUNT(DISTINCT session_id) FROM ai_agent_chat_history WHERE agent_id = %s",
                (agent,),
            )
            await cursor.fetchall()
            for row in page:
                await cursor.execute(
                    "SELECT title FROM ai_agent_chat_title WHERE session_id = %s", (row[0],)
                )
                await cursor.fetchall()
            timings.append((time.perf_counter() - started) * 1000)
    connection.close()
    return timings


def time_calls(client: httpx.Client, make_path: Callable[[random.Random], str]) -> list[float]:
    rng, timings = random.Random(3), []
    for _ in range(CALLS):
        path = make_path(rng)
        started = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.text[:200])
    return timings


def _stats_path(group_by: str, rng: random.Random) -> str:
    """A 90-day range covering the data, its ends off quarter boundaries (edges counted too)."""
    since = START - timedelta(days=30) + timedelta(seconds=rng.randrange(86400))
    until = since + timedelta(days=90)
    return (
        f"/api/v2/stats?group_by={group_by}&tz=Asia/Shanghai"
        f"&from={since.isoformat().replace('+00:00', 'Z')}"
        f"&to={until.isoformat().replace('+00:00', 'Z')}"
    )


def measure_endpoints(base_url: str, data: Dataset) -> dict[str, list[float]]:
    week = {"from": "2026-10-20T00:00:00Z", "to": "2026-10-27T00:00:00Z"}
    calls: dict[str, Callable[[random.Random], str]] = {
        "device_sessions_page": lambda r: (
            f"/api/v2/sessions?device={data.mac(r.randrange(data.devices))}&limit=10"
        ),
        "session_messages": lambda r: (
            f"/api/v2/sessions/session-{r.randrange(data.sessions):07d}/messages"
        ),
        "unified_chat_history": lambda r: (
            f"/api/v2/chat-history/{data.mac(r.randrange(data.devices))}"
        ),
        "search_two_chinese_chars": lambda r: "/api/v2/messages/search?q=天气&limit=20",
        "stats_per_day_week": lambda r: (
            f"/api/v2/stats?group_by=day&tz=Asia/Shanghai&from={week['from']}&to={week['to']}"
        ),
        "stats_per_day_90_days": lambda r: _stats_path("day", r),
        "stats_per_device_90_days": lambda r: _stats_path("device", r),
        "stats_per_agent_90_days": lambda r: _stats_path("agent", r),
        "agent_sessions_page": lambda r: (
            f"/api/v2/sessions?agent=agent-{r.randrange(AGENTS):02d}&limit=10"
        ),
        "agent_sessions_page_compat": lambda r: (
            f"/xiaozhi/agent/agent-{r.randrange(AGENTS):02d}/sessions?page=1&limit=10"
        ),
    }
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
        return {name: time_calls(client, make) for name, make in calls.items()}


def summary(timings: dict[str, list[float]]) -> dict[str, Any]:
    return {
        name: {"p50_ms": round(percentile(t, 50), 2), "p99_ms": round(percentile(t, 99), 2)}
        for name, t in timings.items()
    }


def run_store(kind: str, url: str, data: Dataset, scratch: Path, baseline: list[float]) -> None:
    load_seconds = asyncio.run(load_hub(url, data))
    with running_server(scratch, XIAOZHI_STORAGE__URL=url) as base_url:
        timings = measure_endpoints(base_url, data)
    hub_page = percentile(timings["agent_sessions_page"], 50)
    report(
        "read_api",
        {
            "store": kind,
            "messages": data.messages(),
            "devices": data.devices,
            "sessions": data.sessions,
            "load_seconds": round(load_seconds, 1),
            "calls_per_endpoint": CALLS,
            "endpoints": summary(timings),
            "manager_api_session_page": summary({"query": baseline})["query"],
            "sessions_page_speedup_p50": round(percentile(baseline, 50) / hub_page, 1),
            "goals": {
                "sessions_page_speedup": 10,
                "sessions_page_p99_ms": 10,
                "search_p99_ms": 100,
                "stats_90_days_p99_ms": 20,
            },
        },
    )


def main(scale: float = 1.0) -> None:
    """Load both stores and the upstream table, measure, print one JSON object per store."""
    data = Dataset(scale)
    with tempfile.TemporaryDirectory() as scratch_dir, running_mariadb(Path(scratch_dir)) as server:
        scratch = Path(scratch_dir)
        asyncio.run(load_upstream(server, data))
        baseline = asyncio.run(manager_api_session_page(server, CALLS))
        run_store("sqlite", f"sqlite+aiosqlite:///{scratch / 'hub.db'}", data, scratch, baseline)
        server.sql("CREATE DATABASE hub CHARACTER SET utf8mb4")
        run_store("mariadb", server.url("hub"), data, scratch, baseline)


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
