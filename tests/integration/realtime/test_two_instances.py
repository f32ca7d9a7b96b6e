"""Two instances behind a load balancer: a report accepted by A reaches a client on B."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.core_client import SECRET, encoded, report_body, report_headers
from tests.support.feed_client import collect, connect, feed_url, next_of
from tests.support.live_app import serving
from tests.support.servers import free_port
from xiaozhi_server.config import Settings

pytestmark = pytest.mark.parametrize("store_url", ["mariadb"], indirect=True)
ADMIN = {"Authorization": "Bearer test-token"}


def instance_settings(store_url: str, redis_url: str) -> Settings:
    return Settings.model_validate(
        {
            "storage": {"url": store_url},
            "auth": {"report_secret": SECRET, "api_tokens": ["test-token"], "admin_password": "pw"},
            "notification": {"redis_url": redis_url},
        }
    )


async def wait_until_connected(base_url: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(100):
            events = (await client.get(f"{base_url}/readyz")).json()["components"]["events"]
            if events["state"] == "ready":
                return
            await asyncio.sleep(0.05)
    raise AssertionError("instance never connected to Redis")


async def test_a_client_on_b_sees_each_report_accepted_by_a_once(
    store_url: str, redis_url: str
) -> None:
    with (
        serving(instance_settings(store_url, redis_url)) as a,
        serving(instance_settings(store_url, redis_url)) as b,
    ):
        await wait_until_connected(a.base_url)
        await wait_until_connected(b.base_url)
        async with connect(feed_url(b.base_url)) as on_b, connect(feed_url(a.base_url)) as on_a:
            await next_of(on_b, "welcome")
            await next_of(on_a, "welcome")
            async with httpx.AsyncClient() as client:
                for n in range(3):
                    body = encoded(report_body(content=f"经由A {n}"))
                    answer = await client.post(
                        f"{a.base_url}/xiaozhi/agent/chat-history/report",
                        content=body,
                        headers=report_headers(),
                    )
                    assert answer.json()["code"] == 0
            seen_on_b = [await next_of(on_b, "chat_update", within=15) for _ in range(3)]
            seen_on_a = [await next_of(on_a, "chat_update", within=15) for _ in range(3)]
            seen_on_b += await collect(on_b, "chat_update")
    assert [m["data"]["content"] for m in seen_on_b] == ["经由A 0", "经由A 1", "经由A 2"]
    assert [m["data"]["id"] for m in seen_on_b] == [m["data"]["id"] for m in seen_on_a]


async def test_without_redis_readyz_reports_events_degraded(store_url: str) -> None:
    with serving(instance_settings(store_url, f"redis://127.0.0.1:{free_port()}/0")) as app:
        await asyncio.sleep(0.5)
        async with httpx.AsyncClient() as client:
            body = (await client.get(f"{app.base_url}/readyz", headers=ADMIN)).json()
    assert body["status"] == "degraded"  # still serving: local clients get their events
    assert body["components"]["events"]["state"] == "degraded"
    assert "Connection" in body["components"]["events"]["error"]
