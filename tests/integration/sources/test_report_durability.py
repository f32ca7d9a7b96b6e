"""An acknowledged report survives the server being killed (SIGKILL) mid-write."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import select

from tests.support.core_client import SECRET, encoded, report_body, report_headers
from tests.support.servers import free_port, wait_for_port
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages


def start_server(tmp_path: Path, url: str, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOZHI_")} | {
        "XIAOZHI_STORAGE__URL": url,
        "XIAOZHI_AUTH__REPORT_SECRET": SECRET,
        "XIAOZHI_AUTH__ADMIN_PASSWORD": "pw",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "xiaozhi_server", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, server, timeout=60)
    return server


async def test_every_acknowledged_report_is_in_the_store_after_a_kill(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    port = free_port()
    server = start_server(tmp_path, url, port)
    acknowledged: list[str] = []
    enough = asyncio.Event()

    async def send(client: httpx.AsyncClient, n: int) -> None:
        body = report_body(content=f"durable {n}")
        try:
            answer = await client.post(
                "/xiaozhi/agent/chat-history/report",
                content=encoded(body),
                headers=report_headers(),
            )
        except httpx.HTTPError:
            return  # the core would retry this one
        if answer.status_code == 200 and answer.json()["code"] == 0:
            acknowledged.append(body["content"])
            if len(acknowledged) >= 50:
                enough.set()

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
        senders = [asyncio.create_task(send(client, n)) for n in range(400)]
        await enough.wait()
        server.send_signal(signal.SIGKILL)
        await asyncio.gather(*senders)
    server.wait()

    store = Store(url)
    async with store.read() as connection:
        stored = {row.content for row in await connection.execute(select(messages.c.content))}
    await store.close()
    assert len(acknowledged) >= 50
    assert set(acknowledged) <= stored
