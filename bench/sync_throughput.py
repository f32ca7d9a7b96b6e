"""Sync throughput and freshness.

1. 1,000,000 upstream rows → store via ``xiaozhi-server sync --once`` (its own process and
   its SQLite writer process: the peak RSS is the peak of their sum), next to two ceilings
   on the same rows in the same run: (a) a raw keyset-paginated read with asyncmy, (b) a
   raw ``sqlite3.executemany`` of the same rows, natural keys precomputed, into an
   equivalent table. Goals: >= 0.5 x the slower ceiling, >= 50,000 rows/s into SQLite,
   peak RSS <= 300 MB. For comparison with earlier runs, (b) is also measured as it was
   until 2026-12-01, with sequential keys (0…01, 0…02, …) in place of the natural keys:
   they go into the unique index in order, where real keys (SHA-256) land on random
   pages of it, which is most of what a commit writes.
2. Freshness at ``interval`` 0.5 s: upstream insert → ``chat_update`` on the WebSocket.

``python -m bench.sync_throughput [scale]`` (scale 1.0 = 1,000,000 rows).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import zoneinfo
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.support.servers import MariaDB, running_mariadb
from tests.support.upstream import DDL, INSERT_MESSAGE
from websockets.asyncio.client import connect

from bench.common import percentile, report, tree_memory
from bench.ingest_throughput import measure_raw
from bench.read_api import upstream_connection
from bench.server import TOKEN, running_server
from xiaozhi_server.config import Settings
from xiaozhi_server.ingest.natural_key import natural_key
from xiaozhi_server.ingest.normalise import normalise_device

PAGE = 5000
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
START = datetime(2026, 11, 1, 8, 0)


async def fill_upstream(server: MariaDB, rows: int) -> None:
    server.sql("CREATE DATABASE upstream CHARACTER SET utf8mb4")
    server.sql("USE upstream; " + "; ".join(DDL))
    conn = await upstream_connection(server)
    async with conn.cursor() as cursor:
        for first in range(0, rows, PAGE):
            batch = [
                (
                    f"A0:85:E3:00:{n % 1000 // 256:02X}:{n % 256:02X}",
                    f"agent{n % 20}",
                    f"s-{n // 10}",
                    1 + n % 2,
                    f"第{n}句 今天天气怎么样 turn {n}",
                    None,
                    START + timedelta(seconds=n),
                )
                for n in range(first, min(first + PAGE, rows))
            ]
            await cursor.executemany(INSERT_MESSAGE, batch)
    conn.close()


async def raw_read(server: MariaDB) -> tuple[float, list[tuple[Any, ...]]]:
    """Ceiling (a): keyset pages straight from the driver; returns seconds and the rows."""
    conn = await upstream_connection(server)
    rows: list[tuple[Any, ...]] = []
    started = time.perf_counter()
    async with conn.cursor() as cursor:
        last = 0
        while True:
            await cursor.execute(
                "SELECT id, mac_address, agent_id, session_id, chat_type, content, audio_id,"
                " created_at, updated_at FROM ai_agent_chat_history"
                " WHERE id > %s ORDER BY id LIMIT %s",
                (last, PAGE),
            )
            page = await cursor.fetchall()
            if not page:
                break
            rows.extend(page)
            last = page[-1][0]
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed, rows


def raw_write(path: Path, rows: list[tuple[Any, ...]], sequential_keys: bool = False) -> float:
    """Ceiling (b): the same rows into an equivalent table with sqlite3.executemany, with
    their natural keys (computed before the clock starts) or ``sequential_keys``."""
    zone = zoneinfo.ZoneInfo(Settings().esp32_server.db_timezone)
    values = [
        (
            f"{r[0]:064d}" if sequential_keys else _natural_key(r, zone),
            "poll",
            r[0],
            r[1].lower(),
            r[2],
            r[3],
            r[4],
            r[5],
            None,  # speaker: split from the content by ingest, absent in these rows
            r[6],
            r[7].isoformat(" "),
            r[8].isoformat(" "),
            r[8].isoformat(" "),
            None,
        )
        for r in rows
    ]
    return measure_raw(path, values, PAGE)


def _natural_key(row: tuple[Any, ...], zone: zoneinfo.ZoneInfo) -> str:
    mac, session, chat_type, content, created = row[1], row[3], row[4], row[5], row[7]
    created_utc = created.replace(tzinfo=zone).astimezone(UTC)
    return natural_key(normalise_device(mac), session, chat_type, created_utc, content)


def env_for(server: MariaDB, scratch: Path) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("XIAOZHI_")} | {
        "XIAOZHI_STORAGE__URL": f"sqlite+aiosqlite:///{scratch / 'hub.db'}",
        "XIAOZHI_ESP32_SERVER__DB__HOST": "127.0.0.1",
        "XIAOZHI_ESP32_SERVER__DB__PORT": str(server.port),
        "XIAOZHI_ESP32_SERVER__DB__USER": server.user,
        "XIAOZHI_ESP32_SERVER__DB__PASSWORD": server.password,
        "XIAOZHI_ESP32_SERVER__DB__DATABASE": "upstream",
        "XIAOZHI_SYNC_SERVICE__BATCH_SIZE": str(PAGE),
    }


def sync_process(env: dict[str, str], scratch: Path) -> tuple[float, int]:
    """Seconds and peak RSS (bytes) of one `sync --once` process with its writer process.

    RSS is read from /proc every 0.2 s and summed over both processes (the rusage of a
    forked child also counts the parent's pages from before its exec).
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "xiaozhi_server", "sync", "--once"],
        env=env,
        cwd=scratch,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, sum(tree_memory(process.pid).values()))
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError("sync --once failed")
    return elapsed, peak


async def settled(base_url: str) -> None:
    """Wait until the server's sync runs short passes (its catch-up, including the
    overlap window's one re-read of a bulk load, is over)."""
    seen: list[datetime] = []
    async with httpx.AsyncClient() as client:
        for _ in range(6000):
            answer = await client.get(f"{base_url}/readyz", headers=ADMIN)  # times: admins only
            components = answer.json()["components"]
            last = components.get("upstream", {}).get("last_success_at")
            if last and (not seen or datetime.fromisoformat(last) != seen[-1]):
                seen.append(datetime.fromisoformat(last))
            gaps = [later - earlier for earlier, later in zip(seen[-4:], seen[-3:], strict=False)]
            if len(gaps) >= 3 and max(gaps) < timedelta(seconds=1.5):
                return
            await asyncio.sleep(0.1)


async def freshness(
    server: MariaDB,
    base_url: str,
    count: int = 50,
    every: float = 0.2,
    ready: Callable[[str], Awaitable[None]] = settled,
    session: str = "fresh",
) -> list[float]:
    """Upstream insert → chat_update received, in ms, one insert every ``every`` seconds
    (once ``ready`` says the server's sync is caught up)."""
    await ready(base_url)
    latencies: list[float] = []
    sent: dict[str, float] = {}
    ws = await connect(base_url.replace("http://", "ws://") + f"/ws/admin?token={TOKEN}")
    await ws.send(json.dumps({"type": "subscribe", "filters": {"types": ["chat_update"]}}))

    async def receive() -> None:
        async for text in ws:
            frame = json.loads(text)
            # a frame holds one message, or several as {"type": "batch", "events": [...]}
            for message in frame["events"] if frame["type"] == "batch" else [frame]:
                content = message["data"].get("content", "")
                if content in sent:
                    latencies.append((time.perf_counter() - sent[content]) * 1000)

    listener = asyncio.create_task(receive())
    await paced_inserts(server, count, every, session, sent)
    await asyncio.sleep(3)
    listener.cancel()
    await ws.close()
    return latencies


async def paced_inserts(
    server: MariaDB, count: int, every: float, session: str, sent: dict[str, float]
) -> None:
    """Insert ``count`` upstream rows (content ``<session>-<n>``) one every ``every``
    seconds, recording in ``sent`` when each INSERT was issued."""
    conn = await upstream_connection(server)
    started = time.perf_counter()
    async with conn.cursor() as cursor:
        for n in range(count):
            # paced by the clock, so the rate holds whatever one insert costs
            await asyncio.sleep(max(0.0, started + n * every - time.perf_counter()))
            content = f"{session}-{n}"
            sent[content] = time.perf_counter()
            await cursor.execute(
                INSERT_MESSAGE,
                (
                    "A0:85:E3:FF:00:01",
                    "agent0",
                    session,
                    1,
                    content,
                    None,
                    datetime(2026, 11, 24, 20, 0) + timedelta(seconds=n),
                ),
            )
    conn.close()


def main(scale: float = 1.0) -> None:
    """Fill the upstream, measure the ceilings and the sync, then freshness."""
    rows = int(1_000_000 * scale)
    with tempfile.TemporaryDirectory() as scratch_dir, running_mariadb(Path(scratch_dir)) as server:
        scratch = Path(scratch_dir)
        asyncio.run(fill_upstream(server, rows))
        read_seconds, raw_rows = asyncio.run(raw_read(server))
        write_seconds = raw_write(scratch / "raw.db", raw_rows)
        sequential_seconds = raw_write(scratch / "raw-seq.db", raw_rows, sequential_keys=True)
        del raw_rows
        sync_seconds, peak = sync_process(env_for(server, scratch), scratch)
        slower_ceiling = rows / max(read_seconds, write_seconds)
        earlier_ceiling = rows / max(read_seconds, sequential_seconds)
        report(
            "sync_throughput",
            {
                "rows": rows,
                "sync_rows_per_s": round(rows / sync_seconds),
                "raw_read_rows_per_s": round(rows / read_seconds),
                "raw_executemany_rows_per_s": round(rows / write_seconds),
                "ratio_to_slower_ceiling": round(rows / sync_seconds / slower_ceiling, 3),
                "raw_executemany_sequential_keys_rows_per_s": round(rows / sequential_seconds),
                "ratio_to_earlier_ceiling": round(rows / sync_seconds / earlier_ceiling, 3),
                "peak_rss_mb": round(peak / 2**20),
                "goals": {"ratio": 0.5, "rows_per_s": 50_000, "peak_rss_mb": 300},
            },
        )
        env = env_for(server, scratch) | {
            "XIAOZHI_SYNC_SERVICE__ENABLED": "true",
            "XIAOZHI_SYNC_SERVICE__INTERVAL": "0.5",
        }
        with running_server(scratch, **env) as base_url:
            latencies = asyncio.run(freshness(server, base_url))
        report(
            "sync_freshness",
            {
                "interval_s": 0.5,
                "inserts": 50,
                "received": len(latencies),
                "p50_ms": round(percentile(latencies, 50)) if latencies else None,
                "p99_ms": round(percentile(latencies, 99)) if latencies else None,
                "goal_p99_ms": 1000,
            },
        )


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
