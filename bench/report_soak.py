"""Report soak: the report endpoint under a steady paced load for minutes (default 5).

A real ``xiaozhi-server serve`` (SQLite store) in its own process; the load from processes
of their own (``bench.paced_load``: open loop, latency from each report's scheduled send
time). The mix is the core's: user turns, agent turns (one row per TTS sentence), tool
calls and their results, over 500 devices each in a session of its own, 1 in 10 user and
agent turns with a small WAV. The server's RSS (with its SQLite writer process's) is read
from /proc every few seconds. Once
the server has stopped the store's rows are counted: every acknowledged report must be
exactly one row.

Baseline from the same run, on the same server: the same load against ``/healthz`` for a
short time (the ceiling of this machine and this load generator).
Goals: RSS growth <= 10 % after the first minute, 0 lost.

``python -m bench.report_soak [--seconds 300] [--rate 1100] [--baseline-seconds 20]``
"""

from __future__ import annotations

import argparse
import base64
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.common import percentile, process_memory, report, tree_memory
from bench.paced_load import WORKERS, Minute, Run, run_load
from bench.server import server_process
from xiaozhi_server.sources.demo_content import CONVERSATIONS
from xiaozhi_server.sources.simulator import tone_wav

REPORT_PATH = "/xiaozhi/agent/chat-history/report"
DEVICES = 250  # per load process
AUDIO_SHARE = 0.1  # of user and agent turns
AUDIO = base64.b64encode(tone_wav(0.25)).decode()  # 8 KB, 16 kHz mono 16-bit
WARMUP = 60.0  # RSS growth is measured from here to the end
GOAL_RSS_GROWTH_PCT = 10


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


def counts(minutes: Sequence[Minute]) -> dict[str, Any]:
    """Requests sent, acknowledged, failed, not sent, and latency (p50/p99, ms)."""
    total = Minute()
    for minute in minutes:
        total.add(minute)
    return {
        "sent": total.acked + total.failed,
        "acked": total.acked,
        "failed": total.failed,
        "not_sent": total.not_sent,
        "p50_ms": round(percentile(total.latencies_ms, 50), 1),
        "p99_ms": round(percentile(total.latencies_ms, 99), 1),
    }


def per_minute(run: Run) -> list[dict[str, Any]]:
    """Each minute's counts and latency, and the last RSS reading in it."""
    rows = []
    for n, minute in enumerate(run.tally.minutes):
        rss = [rss for t, rss in run.rss if t < (n + 1) * 60][-1:] or [0]
        rows.append({"minute": n + 1, **counts([minute]), "rss_mb": round(rss[0] / 2**20, 1)})
    return rows


def totals(run: Run) -> dict[str, Any]:
    """The whole run's counts, its pace (until the last answer) and CPU use."""
    seconds = run.tally.finished_s
    return {
        **counts(run.tally.minutes),
        "acked_per_s": round(sum(m.acked for m in run.tally.minutes) / seconds, 1),
        "server_cpu_pct": round(run.server_cpu_s / seconds * 100),
        "server_waiting_for_cpu_pct": round(run.server_wait_s / seconds * 100),
        "load_cpu_pct": round(run.tally.cpu_s / seconds * 100),
    }


def memory(run: Run, seconds: float) -> dict[str, Any]:
    """RSS after the warm-up (the first minute, or a third of a shorter run) and at the end."""
    warmup = min(WARMUP, seconds / 3)
    warm = next(rss for t, rss in run.rss if t >= warmup)
    end = run.rss[-1][1]
    return {
        "warmup_s": round(warmup, 1),
        "rss_mb_after_warmup": round(warm / 2**20, 1),
        "rss_mb_at_end": round(end / 2**20, 1),
        "rss_growth_pct": round((end - warm) / warm * 100, 1),
    }


def stored(db: Path) -> tuple[int, int]:
    """Rows in the store's message and audio tables."""
    with sqlite3.connect(db) as connection:
        messages = connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        audio = connection.execute("SELECT COUNT(*) FROM audio").fetchone()[0]
    return messages, audio


def measure(rate: float, seconds: float, baseline_seconds: float) -> dict[str, Any]:
    """Baseline, then the soak, on one server; count the rows once it has stopped."""
    with tempfile.TemporaryDirectory() as scratch:
        with server_process(Path(scratch)) as (base_url, pid):
            baseline = run_load(base_url, pid, "/healthz", rate, baseline_seconds, None)
            soak = run_load(base_url, pid, REPORT_PATH, rate, seconds, reports)
            # each process's own peak, summed (server and SQLite writer): an upper bound
            peak = sum(process_memory(p, "VmHWM") for p in tree_memory(pid))
        rows, audio_rows = stored(Path(scratch) / "bench.db")
    figures, healthz, growth = totals(soak), totals(baseline), memory(soak, seconds)
    lost = max(0, figures["acked"] - rows)
    return {
        "rate_per_s": rate,
        "seconds": seconds,
        "load_processes": WORKERS,
        "soak": figures,
        "per_minute": per_minute(soak),
        **growth,
        "rss_mb_peak": round(peak / 2**20, 1),
        "rows_in_store": rows,
        "lost": lost,
        "stored_not_acked": max(0, rows - figures["acked"]),
        "audio_acked": sum(m.acked_with_audio for m in soak.tally.minutes),
        "audio_rows": audio_rows,
        "baseline_healthz": {"seconds": baseline_seconds, **healthz},
        "ratio_acked_per_s": round(figures["acked_per_s"] / healthz["acked_per_s"], 3),
        "p99_over_baseline_p99": round(figures["p99_ms"] / healthz["p99_ms"], 1),
        "goals": {"rss_growth_pct": GOAL_RSS_GROWTH_PCT, "lost": 0},
        "goals_met": growth["rss_growth_pct"] <= GOAL_RSS_GROWTH_PCT and lost == 0,
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, measure, print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.report_soak")
    parser.add_argument("--seconds", type=float, default=300, help="soak length")
    parser.add_argument("--rate", type=float, default=1100, help="requests/s, both runs")
    parser.add_argument("--baseline-seconds", type=float, default=20, help="/healthz run")
    args = parser.parse_args(argv)
    report("report_soak", measure(args.rate, args.seconds, args.baseline_seconds))


if __name__ == "__main__":
    main()
