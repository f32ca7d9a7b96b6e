"""The tap: the core talks to the hub as if it were manager-api, and nothing changes for it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from tests.support.core_client import SECRET, encoded, report_body, report_headers
from tests.support.live_app import LiveApp, serving
from tests.support.manager_api import StandIn, manager_api_stand_in
from tests.support.servers import free_port
from xiaozhi_server.config import Settings
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def tap_settings(store_url: str, manager_api_url: str) -> Settings:
    return Settings.model_validate(
        {
            "storage": {"url": store_url},
            "esp32_server": {"manager_api_url": manager_api_url, "timeout": 5},
            "auth": {"report_secret": SECRET, "admin_password": "pw"},
        }
    )


@pytest.fixture
def upstream() -> Iterator[StandIn]:
    with manager_api_stand_in() as stand_in:
        yield stand_in


@pytest.fixture
def hub(store_url: str, upstream: StandIn) -> Iterator[LiveApp]:
    with serving(tap_settings(store_url, upstream.url)) as live:
        yield live


async def count_messages(store_url: str) -> int:
    store = Store(store_url)
    async with store.read() as connection:
        total = (await connection.execute(select(func.count()).select_from(messages))).scalar_one()
    await store.close()
    return int(total)


def test_a_config_call_reaches_manager_api_unchanged_and_its_answer_comes_back(
    hub: LiveApp, upstream: StandIn
) -> None:
    response = httpx.post(
        f"{hub.base_url}/xiaozhi/config/server-base?lang=zh",
        headers={"Authorization": f"Bearer {SECRET}", "X-Custom": "kept"},
        json={"probe": "配置"},
    )
    assert response.status_code == 200
    assert response.json()["data"]["selected_module"] == {"LLM": "ChatGLMLLM"}
    assert response.headers["x-upstream"] == "manager-api stand-in"
    [seen] = upstream.received
    assert (seen.method, seen.path, seen.query) == (
        "POST",
        "/xiaozhi/config/server-base",
        "lang=zh",
    )
    assert seen.headers["authorization"] == f"Bearer {SECRET}"
    assert seen.headers["x-custom"] == "kept"
    assert seen.body == '{"probe":"配置"}'.encode()


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "POST"])
def test_any_method_and_path_is_passed_through(
    hub: LiveApp, upstream: StandIn, method: str
) -> None:
    body = b"\x00\x01firmware" if method in ("PUT", "POST") else None
    response = httpx.request(method, f"{hub.base_url}/xiaozhi/ota/upload/x?v=1.7.6", content=body)
    assert response.status_code == 201
    assert response.content == (body or b"ok")
    assert (upstream.received[0].method, upstream.received[0].path) == (
        method,
        "/xiaozhi/ota/upload/x",
    )


def test_an_upstream_error_is_passed_through_as_it_is(hub: LiveApp) -> None:
    response = httpx.get(f"{hub.base_url}/xiaozhi/fails")
    assert response.status_code == 500
    assert response.json()["msg"] == "服务器内部异常"


def test_a_report_is_stored_here_and_forwarded_unchanged(
    hub: LiveApp, upstream: StandIn, store_url: str
) -> None:
    upstream.report_answer = {"code": 0, "msg": "success", "data": False}
    body = encoded(report_body())
    response = httpx.post(
        f"{hub.base_url}/xiaozhi/agent/chat-history/report", content=body, headers=report_headers()
    )
    assert response.json() == {"code": 0, "msg": "success", "data": False}
    [seen] = upstream.received
    assert seen.body == body
    assert seen.headers["authorization"] == f"Bearer {SECRET}"
    assert asyncio.run(count_messages(store_url)) == 1


def test_with_manager_api_down_the_capture_stands_and_the_core_sees_an_error(
    store_url: str,
) -> None:
    down = f"http://127.0.0.1:{free_port()}/xiaozhi"
    with serving(tap_settings(store_url, down)) as hub:
        report = httpx.post(
            f"{hub.base_url}/xiaozhi/agent/chat-history/report",
            content=encoded(report_body()),
            headers=report_headers(),
        )
        config = httpx.post(f"{hub.base_url}/xiaozhi/config/server-base", json={})
        metrics = httpx.get(f"{hub.base_url}/metrics").text
    assert report.status_code == 502
    assert report.json()["code"] == 502
    assert config.status_code == 502
    assert asyncio.run(count_messages(store_url)) == 1
    assert 'xiaozhi_tap_forwards_total{outcome="unreachable"}' in metrics
