"""Reports while 32 clients guess admin passwords (the hardening audit's reproduction).

Each wrong password costs a scrypt. Before the fix it ran on the event loop, unthrottled:
report latency went from p50 5.5 / p99 33 ms to p50 121 / p99 239 ms. Measured here in one
run, each against a fresh server process, with the guessers in their own process (wrk, 32
connections, back to back): report latency at a fixed rate while idle; during a flood of
wrong bearer tokens (the ceiling: the cheapest refusal there is, so what any flood of
requests costs on this machine); during a flood of wrong Basic passwords with the default
throttle; and with the throttle's limits raised out of reach, so that every guess is hashed
(off-loop hashing alone). Goal: wrong passwords cost no more than wrong tokens (p99 ratio
<= 1.2 against the token flood).
"""

from __future__ import annotations

import asyncio
import base64
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import percentile, report
from bench.report_throughput import SECONDS, latency_at_fixed_rate
from bench.server import running_server

GUESSERS = 32
WRONG_PASSWORD = "Basic " + base64.b64encode(b"admin:guess").decode()
WRONG_TOKEN = "Bearer not-a-token"
NO_THROTTLE = {
    "XIAOZHI_AUTH__FAILED_SIGN_INS_PER_USER": "1000",
    "XIAOZHI_AUTH__FAILED_SIGN_INS_PER_ADDRESS": "100000",
}


@contextmanager
def guessing(base_url: str, credentials: str) -> Iterator[None]:
    """wrk hammering an admin route with wrong ``credentials`` until the block ends."""
    command = [
        "wrk", "-t1", f"-c{GUESSERS}", f"-d{SECONDS + 5}s",
        "-H", f"Authorization: {credentials}",
        base_url + "/api/v2/devices",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        process.terminate()
        process.wait(timeout=30)


def latencies(credentials: str | None, **env: str) -> dict[str, float]:
    """Report latency at a fixed rate, during a flood of ``credentials`` if any."""
    with tempfile.TemporaryDirectory() as scratch, running_server(Path(scratch), **env) as url:
        asyncio.run(latency_at_fixed_rate(url))  # warm up: store created, caches filled
        if credentials is None:
            measured = asyncio.run(latency_at_fixed_rate(url))
        else:
            with guessing(url, credentials):
                measured = asyncio.run(latency_at_fixed_rate(url))
    return {
        "p50_ms": round(percentile(measured, 50), 1),
        "p99_ms": round(percentile(measured, 99), 1),
    }


def main() -> None:
    """Four fresh servers, one JSON object."""
    idle = latencies(None)
    tokens = latencies(WRONG_TOKEN)
    throttled = latencies(WRONG_PASSWORD)
    hashed = latencies(WRONG_PASSWORD, **NO_THROTTLE)
    report(
        "password_storm",
        {
            "guessers": GUESSERS,
            "report_latency_idle": idle,
            "report_latency_wrong_tokens": tokens,
            "report_latency_wrong_passwords": throttled,
            "report_latency_wrong_passwords_all_hashed": hashed,
            "p99_ratio_passwords_vs_tokens": round(throttled["p99_ms"] / tokens["p99_ms"], 2),
            "p99_ratio_all_hashed_vs_tokens": round(hashed["p99_ms"] / tokens["p99_ms"], 2),
            "goal_p99_ratio": 1.2,
        },
    )


if __name__ == "__main__":
    main()
