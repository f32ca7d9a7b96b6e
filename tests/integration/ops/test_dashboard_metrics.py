"""The Grafana dashboard (deploy/grafana/xiaozhi-server.json) against a real `serve`: after
the traffic a hub sees — reports through the tap, the live feed, a sync pass, Redis — every
metric the dashboard queries is on its /metrics."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.core_client import encoded, report_body, report_headers
from tests.support.feed_client import connect, feed_url, next_of
from tests.support.instances import Instance, instance_environment, running_instances
from tests.support.manager_api import manager_api_stand_in
from tests.support.upstream import Upstream, generate
from tests.unit.deploy.files import dashboard_metrics


def samples_on(instance: Instance) -> set[str]:
    """The name of every sample on the instance's /metrics."""
    text = httpx.get(f"{instance.base_url}/metrics", timeout=10).text
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


async def some_traffic(hub: Instance) -> None:
    """A feed client that sees a report arrive, then leaves; a call the tap forwards."""
    async with httpx.AsyncClient(base_url=hub.base_url, timeout=30) as client:
        async with connect(feed_url(hub.base_url)) as feed:
            await next_of(feed, "welcome")
            answer = await client.post(
                "/xiaozhi/agent/chat-history/report",
                content=encoded(report_body(content="仪表盘")),
                headers=report_headers(),
            )
            assert answer.json()["code"] == 0
            await next_of(feed, "chat_update", within=15)
        assert (await client.post("/xiaozhi/config/server-base")).status_code == 200


async def test_every_metric_the_dashboard_queries_is_on_metrics_after_some_traffic(
    upstream: Upstream, redis_url: str, tmp_path: Path
) -> None:
    await generate(upstream, devices=3, sessions=4)
    database = {k: v for k, v in upstream.environment("").items() if "__DB__" in k}
    with manager_api_stand_in() as manager_api:
        env = instance_environment(
            f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}",
            redis_url,
            XIAOZHI_SYNC_SERVICE__ENABLED="true",
            XIAOZHI_SYNC_SERVICE__INTERVAL="0.5",
            XIAOZHI_ESP32_SERVER__MANAGER_API_URL=manager_api.url,
            **database,
        )
        with running_instances(1, env, tmp_path) as (hub,):
            await some_traffic(hub)
            wanted = dashboard_metrics()
            missing = wanted
            # Counted as they happen: the feed's disconnect, the sync pass; give them time.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(60):
                    while missing:
                        missing = wanted - await asyncio.to_thread(samples_on, hub)
                        await asyncio.sleep(0.2)
    assert missing == set()
