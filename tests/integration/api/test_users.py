"""Admins manage users over the API; every change is in the audit trail, no password is."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.live_app import serving
from xiaozhi_server.config import Settings

ADMIN = {"Authorization": "Bearer test-token"}


@pytest.fixture
def api(settings: Settings) -> Iterator[httpx.Client]:
    with serving(settings) as live, httpx.Client(base_url=live.base_url, headers=ADMIN) as client:
        yield client


def add(api: httpx.Client, name: str, role: str = "viewer", password: str = "pw-123456") -> Any:
    return api.post("/api/v2/users", json={"username": name, "role": role, "password": password})


def audit(api: httpx.Client, action: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/api/v2/audit", params={"action": action}).json()[
        "items"
    ]
    return items


def test_an_added_user_can_sign_in_with_the_role_given(api: httpx.Client) -> None:
    answer = add(api, "老师", "viewer", "blackboard-7")
    assert answer.status_code == 201
    assert (answer.json()["username"], answer.json()["role"]) == ("老师", "viewer")
    me = api.get("/api/v2/auth/me", auth=("老师", "blackboard-7"), headers={"Authorization": ""})
    assert me.json()["role"] == "viewer"


def test_the_list_shows_names_and_roles_and_never_a_password_hash(api: httpx.Client) -> None:
    add(api, "alice")
    users = api.get("/api/v2/users").json()["items"]
    assert [(u["username"], u["role"]) for u in users] == [("admin", "admin"), ("alice", "viewer")]
    assert all(set(u) == {"username", "role", "created_at", "updated_at"} for u in users)


def test_a_taken_name_is_409(api: httpx.Client) -> None:
    add(api, "alice")
    answer = add(api, "alice", "admin")
    assert answer.status_code == 409
    assert answer.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"username": "a:b", "role": "viewer", "password": "pw-123456"}, "username"),
        ({"username": " alice", "role": "viewer", "password": "pw-123456"}, "username"),
        ({"username": "alice", "role": "viewer", "password": "short"}, "password"),
        ({"username": "alice", "role": "owner", "password": "pw-123456"}, "role"),
    ],
)
def test_a_name_basic_cannot_carry_a_short_password_or_an_unknown_role_is_400(
    api: httpx.Client, body: dict[str, str], parameter: str
) -> None:
    answer = api.post("/api/v2/users", json=body)
    assert answer.status_code == 400
    assert answer.json()["error"]["parameter"] == parameter


def test_an_admin_changes_a_role_and_a_password(api: httpx.Client) -> None:
    add(api, "alice")
    answer = api.patch("/api/v2/users/alice", json={"role": "admin", "password": "new-pw-123"})
    assert answer.json()["role"] == "admin"
    audit_as_alice = api.get(
        "/api/v2/audit", auth=("alice", "new-pw-123"), headers={"Authorization": ""}
    )
    assert audit_as_alice.status_code == 200


def test_a_change_with_nothing_in_it_is_400(api: httpx.Client) -> None:
    add(api, "alice")
    assert api.patch("/api/v2/users/alice", json={}).status_code == 400


def test_an_unknown_user_is_404_for_change_and_removal(api: httpx.Client) -> None:
    assert api.patch("/api/v2/users/nobody", json={"role": "admin"}).status_code == 404
    assert api.delete("/api/v2/users/nobody").status_code == 404


def test_the_last_admin_can_be_neither_removed_nor_made_a_viewer(api: httpx.Client) -> None:
    demoted = api.patch("/api/v2/users/admin", json={"role": "viewer"})
    assert demoted.status_code == 409
    assert "last admin" in demoted.json()["error"]["message"]
    assert api.delete("/api/v2/users/admin").status_code == 409
    add(api, "deputy", "admin")
    assert api.delete("/api/v2/users/admin").json() == {"removed": "admin"}


def test_every_change_is_audited_with_who_and_from_where_and_no_password(
    api: httpx.Client,
) -> None:
    add(api, "alice", password="secret-pw-1")
    api.patch("/api/v2/users/alice", json={"role": "admin"})
    api.patch("/api/v2/users/alice", json={"password": "secret-pw-2"})
    api.delete("/api/v2/users/alice")
    trail = api.get("/api/v2/audit").json()["items"]
    changes = [(e["action"], e["target"], e["detail"]) for e in trail if e["action"] != "sign_in"]
    assert changes[:4] == [
        ("user_remove", "user alice", {"role": "admin"}),
        ("user_password", "user alice", {}),
        ("user_role", "user alice", {"from": "viewer", "to": "admin"}),
        ("user_add", "user alice", {"role": "viewer"}),
    ]
    assert {(e["actor"], e["actor_kind"], e["address"]) for e in trail[:4]} == {
        ("api-token", "token", "127.0.0.1")
    }
    assert "secret-pw" not in str(trail)
