"""Guessing passwords gets slower and slower: 429 with Retry-After, per name and per address.

Addresses are set with X-Forwarded-For, which uvicorn trusts from 127.0.0.1 (its default
``forwarded_allow_ips``), as it would from a reverse proxy on the same machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.feed_client import connect, feed_url
from tests.support.live_app import LiveApp, serving
from xiaozhi_server.config import Settings

PASSWORD = "right-password"


@pytest.fixture
def app(tmp_path: object) -> Iterator[LiveApp]:
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/throttle.db"},
            "auth": {
                "admin_password": PASSWORD,
                "failed_sign_ins_per_user": 3,
                "failed_sign_ins_per_address": 6,
            },
        }
    )
    with serving(settings) as live:
        yield live


def devices(
    app: LiveApp, user: str, password: str, address: str = "198.51.100.1"
) -> httpx.Response:
    return httpx.get(
        f"{app.base_url}/api/v2/devices",
        auth=(user, password),
        headers={"X-Forwarded-For": address},
    )


def guess(app: LiveApp, times: int, user: str = "admin", address: str = "198.51.100.1") -> None:
    for n in range(times):
        assert devices(app, user, f"guess-{n}", address).status_code == 401


def test_a_name_is_locked_after_its_free_failures_even_for_the_right_password(
    app: LiveApp,
) -> None:
    guess(app, 4)
    response = devices(app, "admin", PASSWORD, address="192.0.2.9")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "too_many_requests"
    assert "too many failed sign-ins" in response.json()["error"]["message"]


def test_the_free_failures_still_let_the_right_password_in(app: LiveApp) -> None:
    guess(app, 3)
    assert devices(app, "admin", PASSWORD).status_code == 200


def test_a_right_password_starts_the_names_count_again(app: LiveApp) -> None:
    guess(app, 3, address="198.51.100.1")
    assert devices(app, "admin", PASSWORD, address="198.51.100.1").status_code == 200
    guess(app, 3, address="198.51.100.2")
    assert devices(app, "admin", PASSWORD, address="198.51.100.3").status_code == 200


def test_one_address_guessing_many_names_is_locked_for_every_name(app: LiveApp) -> None:
    for n in range(7):
        guess(app, 1, user=f"someone-{n}", address="203.0.113.7")
    assert devices(app, "admin", PASSWORD, address="203.0.113.7").status_code == 429
    assert devices(app, "admin", PASSWORD, address="203.0.113.8").status_code == 200


def test_the_console_sign_in_is_throttled_with_the_same_answer(app: LiveApp) -> None:
    def login(password: str) -> httpx.Response:
        return httpx.post(
            f"{app.base_url}/api/v2/auth/login", json={"username": "admin", "password": password}
        )

    assert [login(f"guess-{n}").status_code for n in range(4)] == [401] * 4
    locked = login(PASSWORD)
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1


def test_an_api_token_is_not_slowed_by_a_locked_name(tmp_path: object) -> None:
    settings = Settings.model_validate(
        {
            "storage": {"url": f"sqlite+aiosqlite:///{tmp_path}/tokens.db"},
            "auth": {"admin_password": PASSWORD, "api_tokens": ["test-token"]},
        }
    )
    with serving(settings) as live:
        guess(live, 6)
        answer = httpx.get(
            f"{live.base_url}/api/v2/devices", headers={"Authorization": "Bearer test-token"}
        )
    assert answer.status_code == 200


async def test_the_feed_closes_with_4429_once_a_name_is_locked(app: LiveApp) -> None:
    guess(app, 4)
    async with connect(feed_url(app.base_url, token=None)) as feed:
        await feed.send(json.dumps({"type": "auth", "username": "admin", "password": PASSWORD}))
        with pytest.raises(ConnectionClosed) as closed:
            await feed.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4429
    assert "too many failed sign-ins" in closed.value.rcvd.reason
