"""GET /api/v2/audit: who signed in (or tried), exported and changed what, newest first.

Addresses come from X-Forwarded-For, which uvicorn trusts from 127.0.0.1 (as from a
reverse proxy on the same machine).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.live_app import LiveApp, serving_seeded
from tests.support.seed import LIVING_ROOM

ADMIN = {"Authorization": "Bearer test-token"}


@pytest.fixture
def app(tmp_path: object) -> Iterator[LiveApp]:
    with serving_seeded(f"sqlite+aiosqlite:///{tmp_path}/audit.db") as live:
        yield live


@pytest.fixture
def api(app: LiveApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=app.base_url, headers=ADMIN) as client:
        yield client


def sign_in(api: httpx.Client, name: str, password: str, address: str) -> int:
    answer = api.post(
        "/api/v2/auth/login",
        json={"username": name, "password": password},
        headers={"X-Forwarded-For": address, "Authorization": ""},
    )
    return answer.status_code


def trail(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = api.get("/api/v2/audit", params=params)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_sign_ins_and_failed_ones_are_listed_newest_first_with_the_address(
    api: httpx.Client,
) -> None:
    assert sign_in(api, "admin", "pw", "198.51.100.7") == 200
    assert sign_in(api, "mallory", "guess", "203.0.113.9") == 401
    failed, succeeded = trail(api, action="sign_in_failed")[0], trail(api, action="sign_in")[0]
    assert (failed["actor"], failed["address"], failed["detail"]) == (
        "mallory",
        "203.0.113.9",
        {"via": "login"},
    )
    assert (succeeded["actor"], succeeded["address"]) == ("admin", "198.51.100.7")
    assert failed["id"] > succeeded["id"]
    assert trail(api)[0]["action"] == "sign_in_failed"


def test_an_entry_has_action_actor_and_time_and_where_it_came_from(api: httpx.Client) -> None:
    sign_in(api, "admin", "pw", "198.51.100.7")
    entry = trail(api, action="sign_in")[0]
    assert set(entry) == {
        "id",
        "at",
        "action",
        "actor",
        "actor_kind",
        "address",
        "target",
        "detail",
    }
    assert entry["at"].endswith("+00:00")
    assert entry["actor_kind"] == "user"


def test_an_export_is_recorded_with_format_and_filters_never_the_text(api: httpx.Client) -> None:
    exported = api.get("/api/v2/export", params={"format": "csv", "device": LIVING_ROOM})
    assert "天气" in exported.text
    entry = trail(api, action="export")[0]
    assert entry["target"] == f"device {LIVING_ROOM}"
    assert entry["detail"] == {
        "format": "csv",
        "filters": {"device": LIVING_ROOM},
        "masked": False,
    }
    assert "天气" not in str(entry)


def test_pages_go_back_by_before_id_and_filter_by_action_and_actor(api: httpx.Client) -> None:
    for n in range(5):
        sign_in(api, f"guesser-{n}", "wrong", "192.0.2.1")
    first = api.get("/api/v2/audit", params={"action": "sign_in_failed", "limit": 2}).json()
    second = trail(api, action="sign_in_failed", limit=2, before_id=first["next_before_id"])
    assert [e["actor"] for e in first["items"] + second] == [
        "guesser-4",
        "guesser-3",
        "guesser-2",
        "guesser-1",
    ]
    assert [e["actor"] for e in trail(api, actor="guesser-2")] == ["guesser-2"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_trail_cannot_be_changed_through_the_api(api: httpx.Client, method: str) -> None:
    sign_in(api, "admin", "pw", "198.51.100.7")
    before = trail(api)
    assert api.request(method, "/api/v2/audit").status_code == 405
    assert api.request(method, f"/api/v2/audit/{before[0]['id']}").status_code in (404, 405)
    assert trail(api)[: len(before)] == before


def test_a_locked_name_is_refused_without_a_new_entry_per_refusal(app: LiveApp) -> None:
    with httpx.Client(base_url=app.base_url, headers=ADMIN) as api:
        statuses = [sign_in(api, "admin", f"guess-{n}", "192.0.2.50") for n in range(8)]
        assert statuses[:5] == [401] * 5
        assert 429 in statuses
        checked = [s for s in statuses if s == 401]
        assert len(trail(api, action="sign_in_failed", actor="admin")) == len(checked)
