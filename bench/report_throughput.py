"""Report endpoint: reports/s under N concurrent clients (closed loop, driven by wrk from
Debian's packages so the load generator is not the bottleneck), next to the same server's
trivial JSON endpoint (/healthz) in the same run, and p50/p99 latency at a fixed offered
rate (open loop). Goal: ratio >= 0.6.

Also the server's CPU time per request on each endpoint (its process and its SQLite writer
process, from /proc): on a machine shared with other work, throughput follows the CPU the
others leave, while CPU per request does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from bench.common import percentile, report, tree_memory
from bench.server import SECRET, server_process

CLIENTS = 16
SECONDS = 4
OFFERED_RATE = 100
WRK_SCRIPT = Path(__file__).with_name("report.lua")
HEADERS = {"Authorization": f"Bearer {SECRET}", "Content-Type": "application/json"}
_counter = itertools.count()


def report_body() -> bytes:
    n = next(_counter)
    return json.dumps(
        {
            "macAddress": f"a0:85:e3:00:00:{n % 50:02x}",
            "sessionId": f"bench-{n // 10}",
            "chatType": 1 + n % 2,
            "content": f"第{n}句 benchmark turn {uuid.uuid4().hex}",
            "audioBase64": None,
            "reportTime": int(time.time() * 1000),
        },
        ensure_ascii=False,
    ).encode()


def closed_loop(base_url: str, path: str, script: Path | None = None) -> tuple[float, int]:
    """Requests per second from wrk (CLIENTS connections calling back to back for SECONDS),
    and how many requests that was."""
    command = ["wrk", "-t1", f"-c{CLIENTS}", f"-d{SECONDS}s"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run(
        [*command, base_url + path],
        capture_output=True,
        text=True,
        check=True,
        env=os.environ | {"BENCH_SECRET": SECRET},
    ).stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk saw errors:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    count = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    return rate, count


async def open_loop(client: httpx.AsyncClient, url: str) -> list[float]:
    """Latencies (ms) of reports sent at OFFERED_RATE, from each one's scheduled send time."""
    latencies: list[float] = []

    async def one(scheduled: float) -> None:
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        await client.post(url, content=report_body(), headers=HEADERS)
        latencies.append((time.perf_counter() - scheduled) * 1000)

    start = time.perf_counter() + 0.1
    count = int(OFFERED_RATE * SECONDS)
    await asyncio.gather(*(one(start + i / OFFERED_RATE) for i in range(count)))
    return latencies


async def latency_at_fixed_rate(base_url: str) -> list[float]:
    url = f"{base_url}/xiaozhi/agent/chat-history/report"
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=64), timeout=30) as client:
        return await open_loop(client, url)


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by the server and its writer process."""
    total = 0.0
    for process in tree_memory(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def timed(pid: int, base_url: str, path: str, script: Path | None = None) -> tuple[float, float]:
    """(requests/s, server CPU ms per request) of one closed-loop run."""
    before = server_cpu(pid)
    rate, count = closed_loop(base_url, path, script)
    return rate, (server_cpu(pid) - before) * 1000 / count


def measure(base_url: str, pid: int) -> dict[str, float]:
    trivial, reports = [], []
    for _ in range(2):  # alternate, keep the best of each
        trivial.append(timed(pid, base_url, "/healthz"))
        reports.append(timed(pid, base_url, "/xiaozhi/agent/chat-history/report", WRK_SCRIPT))
    latencies = asyncio.run(latency_at_fixed_rate(base_url))
    report_rate, trivial_rate = max(r for r, _ in reports), max(r for r, _ in trivial)
    report_cpu, trivial_cpu = min(c for _, c in reports), min(c for _, c in trivial)
    return {
        "clients": CLIENTS,
        "reports_per_s": round(report_rate),
        "trivial_json_per_s": round(trivial_rate),
        "ratio": round(report_rate / trivial_rate, 3),
        "server_cpu_ms_per_report": round(report_cpu, 3),
        "server_cpu_ms_per_trivial": round(trivial_cpu, 3),
        "cpu_ratio": round(trivial_cpu / report_cpu, 3),
        "goal_ratio": 0.6,
        "open_loop_rate_per_s": OFFERED_RATE,
        "open_loop_p50_ms": round(percentile(latencies, 50), 1),
        "open_loop_p99_ms": round(percentile(latencies, 99), 1),
    }


def main() -> None:
    """Start a server process, measure, print one JSON object."""
    with tempfile.TemporaryDirectory() as scratch, server_process(Path(scratch)) as (url, pid):
        figures = measure(url, pid)
    report("report_endpoint", figures)


if __name__ == "__main__":
    main()
