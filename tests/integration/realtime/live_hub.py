"""A hub with the feed on, and reports sent to it as the core sends them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.core_client import SECRET, encoded, report_body, report_headers
from tests.support.live_app import LiveApp
from xiaozhi_server.config import Settings

REPORT = "/xiaozhi/agent/chat-history/report"


def feed_settings(store_url: str, **notification: Any) -> Settings:
    """Settings of a hub on ``store_url`` with API token ``test-token``."""
    return Settings.model_validate(
        {
            "storage": {"url": store_url},
            "auth": {"report_secret": SECRET, "api_tokens": ["test-token"], "admin_password": "pw"},
            "notification": notification,
        }
    )


async def report(app: LiveApp, **fields: Any) -> None:
    """Report one turn (``report_body`` fields) and check it was accepted."""
    async with httpx.AsyncClient(base_url=app.base_url) as client:
        response = await client.post(
            REPORT, content=encoded(report_body(**fields)), headers=report_headers()
        )
    assert response.json()["code"] == 0
