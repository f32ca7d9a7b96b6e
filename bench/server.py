"""A real xiaozhi-server process for benchmarks, on a free loopback port and a scratch store."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SECRET = "bench-secret"
TOKEN = "bench-token"


def free_port() -> int:
    """A TCP port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(scratch: Path, **env: str) -> Iterator[str]:
    """``xiaozhi-server serve`` in its own process (its own core); yield its base URL."""
    with server_process(scratch, **env) as (base_url, _):
        yield base_url


@contextmanager
def server_process(scratch: Path, **env: str) -> Iterator[tuple[str, int]]:
    """Like ``running_server``; yield its base URL and its process id (memory, CPU time)."""
    port = free_port()
    settings = {
        "XIAOZHI_STORAGE__URL": f"sqlite+aiosqlite:///{scratch / 'bench.db'}",
        "XIAOZHI_AUTH__REPORT_SECRET": SECRET,
        "XIAOZHI_AUTH__API_TOKENS": f'["{TOKEN}"]',
        "XIAOZHI_AUTH__ADMIN_PASSWORD": "bench-password",
        "XIAOZHI_SERVER__LOG_LEVEL": "warning",
        "XIAOZHI_NOTIFICATION__MAX_SUBSCRIBERS": "5000",
        "XIAOZHI_NOTIFICATION__QUEUE_SIZE": "100000",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "xiaozhi_server", "serve", "--port", str(port)],
        env={k: v for k, v in os.environ.items() if not k.startswith("XIAOZHI_")} | settings | env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=scratch,
    )
    try:
        _wait(port, process)
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("xiaozhi-server exited before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("xiaozhi-server did not listen in time")
