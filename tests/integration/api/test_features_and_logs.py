"""Feature flags really turn capabilities off; readiness reports a degraded upstream;
every response carries its request id."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.core_client import SECRET, encoded, report_body, report_headers
from tests.support.feed_client import connect, feed_url
from tests.support.live_app import LiveApp, serving
from tests.support.servers import free_port
from xiaozhi_server.config import Settings
from xiaozhi_server.ops.logs import JsonFormatter

AUTH = {"Authorization": "Bearer test-token"}


def settings_with(tmp_path: Path, **sections: Any) -> Settings:
    base: dict[str, Any] = {
        "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"},
        "auth": {"api_tokens": ["test-token"], "admin_password": "pw", "report_secret": SECRET},
    }
    return Settings.model_validate(base | sections)


@pytest.fixture
def all_off(tmp_path: Path) -> Iterator[LiveApp]:
    flags = {
        name: False for name in ("capture", "tap", "sync", "notifications", "console", "export")
    }
    with serving(settings_with(tmp_path, features=flags)) as app:
        yield app


def test_the_features_endpoint_shows_each_flag_off_with_its_reason(all_off: LiveApp) -> None:
    features = httpx.get(f"{all_off.base_url}/api/v2/features", headers=AUTH).json()["features"]
    assert all(
        state == {"enabled": False, "reason": "turned off by features flag"}
        for state in features.values()
    )


def test_capture_off_answers_the_report_with_404_and_the_reason(all_off: LiveApp) -> None:
    response = httpx.post(
        f"{all_off.base_url}/xiaozhi/agent/chat-history/report",
        content=encoded(report_body()),
        headers=report_headers(),
    )
    assert response.status_code == 404
    assert "features.capture" in response.json()["msg"]


def test_export_off_is_404_with_the_reason(all_off: LiveApp) -> None:
    response = httpx.get(f"{all_off.base_url}/api/v2/export", headers=AUTH)
    assert response.status_code == 404
    assert "features.export" in response.json()["error"]["message"]


async def test_notifications_off_closes_the_feed_with_the_reason(all_off: LiveApp) -> None:
    async with connect(feed_url(all_off.base_url)) as feed:
        with pytest.raises(ConnectionClosed) as closed:
            await feed.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4404
    assert "features.notifications" in closed.value.rcvd.reason


def test_tap_off_mounts_no_proxy(tmp_path: Path) -> None:
    upstream_url = f"http://127.0.0.1:{free_port()}/xiaozhi"
    settings = settings_with(
        tmp_path, features={"tap": False}, esp32_server={"manager_api_url": upstream_url}
    )
    with serving(settings) as app:
        assert httpx.get(f"{app.base_url}/xiaozhi/config/server-base").status_code == 404
        stored = httpx.post(
            f"{app.base_url}/xiaozhi/agent/chat-history/report",
            content=encoded(report_body()),
            headers=report_headers(),
        )
    assert stored.json()["data"] is True


def test_sync_off_starts_no_sync(all_off: LiveApp) -> None:
    body = httpx.get(f"{all_off.base_url}/readyz").json()
    assert "upstream" not in body["components"]
    assert httpx.get(f"{all_off.base_url}/api/v2/sync/status", headers=AUTH).json() == {"items": []}


def test_an_unreachable_upstream_leaves_the_hub_ready_but_degraded(tmp_path: Path) -> None:
    import time

    settings = settings_with(
        tmp_path,
        esp32_server={
            "db": {"host": "127.0.0.1", "port": free_port(), "password": "x"},
            "timeout": 1,
        },
        sync_service={"enabled": True, "interval": 0.2},
    )
    with serving(settings) as app:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            response = httpx.get(f"{app.base_url}/readyz", headers=AUTH)
            if response.json()["status"] == "degraded":
                break
            time.sleep(0.2)
        sessions = httpx.get(f"{app.base_url}/api/v2/sessions", headers=AUTH)
    assert response.status_code == 200
    upstream = response.json()["components"]["upstream"]
    assert upstream["state"] == "degraded"
    assert "cannot connect to the upstream MySQL" in upstream["error"]
    assert sessions.status_code == 200


def test_every_response_carries_a_request_id(all_off: LiveApp) -> None:
    given = httpx.get(f"{all_off.base_url}/healthz", headers={"X-Request-ID": "abc-123"})
    made = httpx.get(f"{all_off.base_url}/healthz")
    assert given.headers["x-request-id"] == "abc-123"
    assert len(made.headers["x-request-id"]) == 16


def test_json_logs_carry_level_logger_request_id_and_message() -> None:
    record = logging.LogRecord(
        "xiaozhi_server.test", logging.WARNING, __file__, 1, "hello %s", ("世界",), None
    )
    record.request_id = "r-1"
    line = JsonFormatter().format(record)
    import json

    entry = json.loads(line)
    assert (entry["level"], entry["logger"], entry["request_id"], entry["message"]) == (
        "warning",
        "xiaozhi_server.test",
        "r-1",
        "hello 世界",
    )
