"""Binlog freshness: upstream insert → ``chat_update`` on the WebSocket, at 100 inserts/s.

One run, one MariaDB writing a row binlog with MINIMAL row metadata (the MySQL 8 default,
so column names come from information_schema), three measurements of the same traffic:

1. baseline: a bare mysql-replication reader in this process (insert → row event decoded);
2. ``xiaozhi-server serve`` in binlog mode (goal: p99 <= 300 ms end to end);
3. ``xiaozhi-server serve`` polling at ``interval`` 0.5 s, for comparison.

``python -m bench.binlog_freshness [inserts]`` (default 1,000 per measurement: 10 s each).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from pymysqlreplication import BinLogStreamReader
from pymysqlreplication.row_event import WriteRowsEvent
from tests.support.servers import MariaDB, running_mariadb
from tests.support.upstream import DDL

from bench.common import percentile, report
from bench.server import TOKEN, running_server
from bench.sync_throughput import env_for, freshness, paced_inserts

EVERY = 0.01  # 100 inserts/s
logging.getLogger("pymysqlreplication").setLevel(logging.ERROR)
BINLOG_OPTIONS = ("--log-bin=binlog", "--binlog-format=ROW", "--server-id=1")


def figures(latencies: list[float], sent: int) -> dict[str, float | int | None]:
    """Received count and percentiles, in ms."""
    return {
        "received": len(latencies),
        "p50_ms": round(percentile(latencies, 50), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "sent": sent,
    }


def raw_binlog_read(server: MariaDB, count: int) -> list[float]:
    """Insert → row event decoded by a bare reader, in ms (the floor binlog mode stands on)."""
    status = server.sql("SHOW MASTER STATUS").split("\t")
    stream = BinLogStreamReader(
        connection_settings={
            "host": "127.0.0.1",
            "port": server.port,
            "user": server.user,
            "password": server.password,
        },
        server_id=99,
        blocking=True,
        resume_stream=True,
        log_file=status[0],
        log_pos=int(status[1]),
        only_events=[WriteRowsEvent],
        only_tables=["ai_agent_chat_history"],
    )
    sent: dict[str, float] = {}
    latencies: list[float] = []

    def read() -> None:
        for event in stream:
            for row in event.rows:
                content = next(v for v in row["values"].values() if str(v).startswith("raw-"))
                latencies.append((time.perf_counter() - sent[content]) * 1000)
            if len(latencies) >= count:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(1)  # let it connect: the first inserts should not wait for the handshake
    asyncio.run(paced_inserts(server, count, EVERY, "raw", sent))
    reader.join(timeout=10)
    stream.close()
    return latencies


async def streaming(base_url: str) -> None:
    """Wait until the server's snapshot is stored and it follows the binlog."""
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            items = (
                await client.get(
                    f"{base_url}/api/v2/sync/status", headers={"Authorization": f"Bearer {TOKEN}"}
                )
            ).json()["items"]
            if items and '"binlog"' in (items[0]["cursor"] or ""):
                return
            await asyncio.sleep(0.1)
    raise RuntimeError("binlog mode did not start streaming")


def main(count: int = 1000) -> None:
    """Measure the three, in one run, on one server."""
    with (
        tempfile.TemporaryDirectory() as scratch_dir,
        running_mariadb(Path(scratch_dir), *BINLOG_OPTIONS) as server,
    ):
        scratch = Path(scratch_dir)
        server.sql("CREATE DATABASE upstream CHARACTER SET utf8mb4")
        server.sql("USE upstream; " + "; ".join(DDL))
        raw = raw_binlog_read(server, count)
        env = env_for(server, scratch) | {"XIAOZHI_SYNC_SERVICE__ENABLED": "true"}
        del env["XIAOZHI_STORAGE__URL"]  # each server keeps its own store in its scratch dir
        (scratch / "binlog").mkdir()
        (scratch / "poll").mkdir()
        with running_server(scratch / "binlog", **env, XIAOZHI_SYNC_SERVICE__MODE="binlog") as url:
            binlog = asyncio.run(freshness(server, url, count, EVERY, streaming, "binlog"))
        with running_server(scratch / "poll", **env, XIAOZHI_SYNC_SERVICE__INTERVAL="0.5") as url:
            poll = asyncio.run(freshness(server, url, count, EVERY, session="poll"))
        report(
            "binlog_freshness",
            {
                "inserts_per_s": round(1 / EVERY),
                "row_metadata": "MINIMAL",
                "raw_binlog_read": figures(raw, count),
                "binlog_mode": figures(binlog, count),
                "poll_mode_interval_0.5s": figures(poll, count),
                "p99_binlog_over_poll": round(percentile(binlog, 99) / percentile(poll, 99), 3),
                "goal_binlog_p99_ms": 300,
            },
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
