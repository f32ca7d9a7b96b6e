"""Probes, over real HTTP: /healthz for liveness, /readyz for the store's state."""

from __future__ import annotations

import httpx

from tests.support.live_app import serving
from xiaozhi_server.config import Settings
from xiaozhi_server.store import migrate


def test_healthz_answers_ok(settings: Settings) -> None:
    with serving(settings) as app:
        response = httpx.get(f"{app.base_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_lists_the_store_as_ready_at_head(settings: Settings) -> None:
    with serving(settings) as app:
        body = httpx.get(f"{app.base_url}/readyz").json()
    assert body["status"] == "ready"
    assert body["components"]["store"]["state"] == "ready"
    assert body["components"]["store"]["revision"] == migrate.head_revision()


def test_readyz_is_unavailable_while_the_store_is_not_migrated(settings: Settings) -> None:
    settings.storage.auto_migrate = False
    with serving(settings) as app:
        response = httpx.get(f"{app.base_url}/readyz")
    assert response.status_code == 503
    assert "xiaozhi-server db upgrade" in response.json()["components"]["store"]["error"]
