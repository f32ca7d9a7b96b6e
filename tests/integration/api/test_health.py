"""Probes, over real HTTP: /healthz for liveness, /readyz for each component's state, with
the details (errors naming hosts and ports, revisions, times) for admins only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.live_app import LiveApp, serving
from tests.support.servers import free_port
from xiaozhi_server.config import Settings
from xiaozhi_server.store import migrate

ADMIN = {"Authorization": "Bearer test-token"}


@pytest.fixture
def degraded(settings: Settings) -> Iterator[tuple[LiveApp, int, int]]:
    """A hub whose upstream database and Redis are both unreachable, once it says so:
    (the app, the upstream's port, Redis's port)."""
    upstream_port, redis_port = free_port(), free_port()
    settings.esp32_server.db.host, settings.esp32_server.db.port = "127.0.0.1", upstream_port
    settings.esp32_server.timeout = 1
    settings.sync_service.enabled, settings.sync_service.interval = True, 0.2
    settings.notification.redis_url = f"redis://127.0.0.1:{redis_port}/0"
    with serving(settings) as app:
        deadline = time.monotonic() + 30
        while not reported(readiness(app, ADMIN)):
            assert time.monotonic() < deadline, "the failures were never reported"
            time.sleep(0.2)
        yield app, upstream_port, redis_port


def reported(body: dict[str, Any]) -> bool:
    """Whether both the upstream's and Redis's failures are in ``body``."""
    components = body["components"]
    return "error" in components.get("upstream", {}) and "error" in components["events"]


def readiness(app: LiveApp, headers: dict[str, str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{app.base_url}/readyz", headers=headers).json()
    return body


def test_healthz_answers_ok(settings: Settings) -> None:
    with serving(settings) as app:
        response = httpx.get(f"{app.base_url}/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_lists_the_store_as_ready_at_head(settings: Settings) -> None:
    with serving(settings) as app:
        body = httpx.get(f"{app.base_url}/readyz", headers=ADMIN).json()
    assert body["status"] == "ready"
    assert body["components"]["store"]["state"] == "ready"
    assert body["components"]["store"]["revision"] == migrate.head_revision()


def test_readyz_is_unavailable_while_the_store_is_not_migrated(settings: Settings) -> None:
    settings.storage.auto_migrate = False
    with serving(settings) as app:
        response = httpx.get(f"{app.base_url}/readyz", headers=ADMIN)
    assert response.status_code == 503
    assert "xiaozhi-server db upgrade" in response.json()["components"]["store"]["error"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_readyz_shows_an_anonymous_caller_each_state_and_nothing_else(
    degraded: tuple[LiveApp, int, int],
) -> None:
    app, upstream_port, redis_port = degraded
    response = httpx.get(f"{app.base_url}/readyz")
    assert response.json() == {
        "status": "degraded",
        "components": {
            "store": {"state": "ready"},
            "events": {"state": "degraded"},
            "upstream": {"state": "degraded"},
        },
    }
    assert str(upstream_port) not in response.text
    assert str(redis_port) not in response.text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_readyz_answers_a_wrong_token_as_it_answers_an_anonymous_caller(
    degraded: tuple[LiveApp, int, int],
) -> None:
    app, _, _ = degraded
    wrong = readiness(app, {"Authorization": "Bearer not-the-token"})
    assert wrong == readiness(app)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_readyz_shows_an_admin_the_errors_with_their_addresses(
    degraded: tuple[LiveApp, int, int],
) -> None:
    app, upstream_port, redis_port = degraded
    components = httpx.get(f"{app.base_url}/readyz", headers=ADMIN).json()["components"]
    assert f"127.0.0.1:{upstream_port}" in components["upstream"]["error"]
    assert str(redis_port) in components["events"]["error"]
    assert components["store"]["revision"] == migrate.head_revision()


def test_readyz_answers_a_locked_caller_with_the_states_not_429(tmp_path: object) -> None:
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/locked.db"},
            "auth": {"admin_password": "pw", "failed_sign_ins_per_user": 1},
        }
    )
    with serving(settings) as app:
        for _ in range(3):
            httpx.get(f"{app.base_url}/api/v2/devices", auth=("admin", "guess"))
        response = httpx.get(f"{app.base_url}/readyz", auth=("admin", "guess"))
    assert response.status_code == 200
    assert response.json()["components"]["store"] == {"state": "ready"}
