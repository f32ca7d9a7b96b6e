"""Users and tokens carry a role; a viewer reads and searches, an admin does the rest.

A role or password change, or a removal, applies to the user's open sessions at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.support.live_app import LiveApp, serving
from xiaozhi_server.auth import users
from xiaozhi_server.config import Settings
from xiaozhi_server.store.database import Store

CLI = users.Actor("operator", "cli", "local")


@pytest.fixture
def app(tmp_path: object) -> Iterator[LiveApp]:
    url = f"sqlite+aiosqlite:///{tmp_path}/roles.db"
    settings = Settings.model_validate(
        {
            "storage": {"url": url},
            "auth": {
                "admin_password": "admin-pw",
                "api_tokens": ["old-token", {"token": "wall-token", "role": "viewer"}],
            },
        }
    )
    with serving(settings) as live:
        change(live, lambda store: users.add(store, "teacher", "viewer", "teacher-pw", CLI))
        yield live


def change(app: LiveApp, action: Callable[[Store], Awaitable[object]]) -> None:
    """Change users in the app's store, as `xiaozhi-server users` does from outside."""

    async def run() -> None:
        store = Store(app.settings.storage.url)
        try:
            await action(store)
        finally:
            await store.close()

    asyncio.run(run())


@contextmanager
def signed_in(app: LiveApp, name: str, password: str) -> Iterator[httpx.Client]:
    """A browser signed in to the console as ``name`` (its session cookie)."""
    with httpx.Client(base_url=app.base_url) as browser:
        answer = browser.post("/api/v2/auth/login", json={"username": name, "password": password})
        assert answer.status_code == 200, answer.text
        yield browser


def test_a_viewer_signs_in_reads_and_searches_but_may_not_export(app: LiveApp) -> None:
    with signed_in(app, "teacher", "teacher-pw") as browser:
        me = browser.get("/api/v2/auth/me").json()
        assert (me["role"], me["permissions"]) == ("viewer", ["read", "annotate"])
        assert browser.get("/api/v2/devices").status_code == 200
        assert browser.get("/api/v2/messages/search", params={"q": "x"}).status_code == 200
        refused = browser.get("/api/v2/export")
    assert refused.status_code == 403
    assert refused.json()["error"] == {
        "code": "forbidden",
        "message": "forbidden: this needs the admin role; 'teacher' is a viewer",
    }


def test_the_login_answer_says_the_role(app: LiveApp) -> None:
    answer = httpx.post(
        f"{app.base_url}/api/v2/auth/login", json={"username": "teacher", "password": "teacher-pw"}
    )
    assert answer.json()["role"] == "viewer"


def test_a_plain_token_is_an_admins_and_a_token_with_a_role_has_that_role(app: LiveApp) -> None:
    def me(token: str) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {token}"}
        body: dict[str, str] = httpx.get(f"{app.base_url}/api/v2/auth/me", headers=headers).json()
        return body

    assert (me("old-token")["role"], me("old-token")["username"]) == ("admin", "api-token")
    assert me("wall-token")["role"] == "viewer"


def test_a_viewer_by_name_and_password_is_a_viewer_too(app: LiveApp) -> None:
    answer = httpx.get(f"{app.base_url}/api/v2/audit", auth=("teacher", "teacher-pw"))
    assert answer.status_code == 403


def test_a_new_role_applies_to_an_open_session_at_once(app: LiveApp) -> None:
    with signed_in(app, "teacher", "teacher-pw") as browser:
        assert browser.get("/api/v2/audit").status_code == 403
        change(app, lambda store: users.change_role(store, "teacher", "admin", CLI))
        assert browser.get("/api/v2/audit").status_code == 200


def test_a_removed_user_is_signed_out_at_once_by_session_and_by_password(app: LiveApp) -> None:
    with signed_in(app, "teacher", "teacher-pw") as browser:
        basic = ("teacher", "teacher-pw")
        assert httpx.get(f"{app.base_url}/api/v2/devices", auth=basic).status_code == 200
        change(app, lambda store: users.remove(store, "teacher", CLI))
        assert browser.get("/api/v2/devices").status_code == 401
    assert httpx.get(f"{app.base_url}/api/v2/devices", auth=basic).status_code == 401


def test_a_new_password_ends_the_sessions_and_the_old_one_stops_working_at_once(
    app: LiveApp,
) -> None:
    with signed_in(app, "teacher", "teacher-pw") as browser:
        old = ("teacher", "teacher-pw")
        assert httpx.get(f"{app.base_url}/api/v2/devices", auth=old).status_code == 200
        change(app, lambda store: users.change_password(store, "teacher", "new-teacher-pw", CLI))
        assert browser.get("/api/v2/devices").status_code == 401
    assert httpx.get(f"{app.base_url}/api/v2/devices", auth=old).status_code == 401
    new = ("teacher", "new-teacher-pw")
    assert httpx.get(f"{app.base_url}/api/v2/devices", auth=new).status_code == 200


def test_the_configured_admin_stays_an_admin_across_restarts(tmp_path: object) -> None:
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/again.db"},
            "auth": {"admin_password": "admin-pw"},
        }
    )
    with serving(settings) as live:
        change(live, lambda store: users.add(store, "other", "admin", "other-pw-1", CLI))
        change(live, lambda store: users.change_role(store, "admin", "viewer", CLI))
    with serving(settings) as live:
        me = httpx.get(f"{live.base_url}/api/v2/auth/me", auth=("admin", "admin-pw")).json()
    assert me["role"] == "admin"
