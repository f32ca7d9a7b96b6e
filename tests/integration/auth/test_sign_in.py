"""Console sign-in: a session cookie (and token) from an admin's name and password, on
every store."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_app import LiveApp, serving
from xiaozhi_server.config import Settings


@pytest.fixture
def app(store_url: str) -> Iterator[LiveApp]:
    """The app on each store, with the configured admin's password."""
    settings = Settings.model_validate(
        {"storage": {"url": store_url}, "auth": {"admin_password": "secret-pw"}}
    )
    with serving(settings) as live:
        yield live


def test_signing_in_sets_a_cookie_that_opens_admin_routes(app: LiveApp) -> None:
    with httpx.Client(base_url=app.base_url) as browser:
        answer = browser.post(
            "/api/v2/auth/login", json={"username": "admin", "password": "secret-pw"}
        )
        assert answer.status_code == 200
        assert "httponly" in answer.headers["set-cookie"].lower()
        me = browser.get("/api/v2/auth/me").json()
        assert (me["username"], me["kind"], me["role"]) == ("admin", "session", "admin")
        assert browser.get("/api/v2/devices").status_code == 200


def test_the_session_token_works_as_a_bearer_token(app: LiveApp) -> None:
    token = httpx.post(
        f"{app.base_url}/api/v2/auth/login", json={"username": "admin", "password": "secret-pw"}
    ).json()["token"]
    assert (
        httpx.get(
            f"{app.base_url}/api/v2/devices", headers={"Authorization": f"Bearer {token}"}
        ).status_code
        == 200
    )


def test_signing_out_ends_the_session_at_once(app: LiveApp) -> None:
    with httpx.Client(base_url=app.base_url) as browser:
        browser.post("/api/v2/auth/login", json={"username": "admin", "password": "secret-pw"})
        cookie = browser.cookies.get("xiaozhi_session")
        browser.post("/api/v2/auth/logout")
        assert browser.get("/api/v2/devices").status_code == 401
    reused = httpx.get(
        f"{app.base_url}/api/v2/devices", headers={"Authorization": f"Bearer {cookie}"}
    )
    assert reused.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"username": "admin", "password": "nope"},
        {"username": "root", "password": "secret-pw"},
        {"username": "admin\x00", "password": "secret-pw"},
        {"username": "admin"},
    ],
)
def test_wrong_or_missing_credentials_are_refused(app: LiveApp, body: dict[str, str]) -> None:
    response = httpx.post(f"{app.base_url}/api/v2/auth/login", json=body)
    assert response.status_code in (400, 401)
    assert "error" in response.json()
