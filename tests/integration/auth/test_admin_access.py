"""Admin routes accept API tokens and admin passwords, and refuse everything else."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_app import LiveApp, serving
from xiaozhi_server.config import Settings


@pytest.fixture(params=["sqlite"])
def app(settings: Settings) -> Iterator[LiveApp]:
    with serving(settings) as live:
        yield live


@pytest.fixture
def store_url(tmp_path: object) -> str:
    return f"sqlite+aiosqlite:///{tmp_path}/auth.db"


def features(app: LiveApp, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{app.base_url}/api/v2/features", **kwargs)  # type: ignore[arg-type]


def test_an_api_token_opens_admin_routes(app: LiveApp) -> None:
    response = features(app, headers={"Authorization": "Bearer test-token"})
    assert response.status_code == 200
    assert response.json()["features"]["capture"] == {"enabled": True, "reason": None}


def test_the_admin_password_opens_admin_routes(app: LiveApp) -> None:
    assert features(app, auth=("admin", "test-password")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Token test-token"},
    ],
)
def test_missing_or_wrong_credentials_get_401(app: LiveApp, headers: dict[str, str]) -> None:
    response = features(app, headers=headers)
    assert response.status_code == 401
    assert "authentication required" in response.json()["error"]["message"]
    assert "Bearer" in response.headers["www-authenticate"]


def test_a_wrong_password_gets_401(app: LiveApp) -> None:
    assert features(app, auth=("admin", "guess")).status_code == 401


def test_a_token_in_the_query_is_not_accepted_over_plain_http(app: LiveApp) -> None:
    assert features(app, params={"token": "test-token"}).status_code == 401


def test_tap_is_reported_off_without_a_manager_api_url(app: LiveApp) -> None:
    body = features(app, headers={"Authorization": "Bearer test-token"}).json()
    assert body["features"]["tap"] == {
        "enabled": False,
        "reason": "esp32_server.manager_api_url is not set",
    }


@pytest.mark.parametrize("username", ["ad\x00min", "a" * 65, "line\nbreak"])
def test_a_basic_name_no_admin_can_have_gets_401(app: LiveApp, username: str) -> None:
    assert features(app, auth=(username, "test-password")).status_code == 401
