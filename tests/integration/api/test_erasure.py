"""The erasure routes over real HTTP, on SQLite and MariaDB."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_app import serving
from tests.support.seed import AUDIO, KIDS_ROOM, LIVING_ROOM, seed
from xiaozhi_server.config import Settings
from xiaozhi_server.store import audit
from xiaozhi_server.store.database import Store

AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture
def api(settings: Settings, store_url: str) -> Iterator[httpx.Client]:
    """A fresh seeded store served over HTTP (erasures change it), with an API token."""
    asyncio.run(seed(store_url))
    with (
        serving(settings) as app,
        httpx.Client(base_url=app.base_url, headers=AUTH, timeout=30) as client,
    ):
        yield client


async def _entries(url: str) -> list[dict[str, object]]:
    store = Store(url)
    try:
        return await audit.entries(store, 10, action="erase")
    finally:
        await store.close()


def test_deleting_a_device_answers_what_was_erased(api: httpx.Client) -> None:
    response = api.delete(f"/api/v2/devices/{LIVING_ROOM}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["target"] == {"kind": "device", "id": LIVING_ROOM, "label": "客厅小智"}
    assert body["erased"] == {
        "sessions": 2,
        "messages": 6,
        "audio": 1,
        "audio_bytes": len(AUDIO),
        "devices": 1,
    }
    macs = [d["mac"] for d in api.get("/api/v2/devices").json()["items"]]
    assert macs == [KIDS_ROOM]


@pytest.mark.parametrize("spelling", ["AA-BB-CC-00-00-01", "aabbcc000001", "dev-1"])
def test_a_device_is_named_by_any_mac_spelling_or_its_upstream_id(
    api: httpx.Client, spelling: str
) -> None:
    response = api.delete(f"/api/v2/devices/{spelling}")
    assert response.json()["target"]["id"] == LIVING_ROOM


def test_the_preview_names_the_target_and_its_counts_and_changes_nothing(
    api: httpx.Client,
) -> None:
    preview = api.get(f"/api/v2/devices/{LIVING_ROOM}/erasure").json()
    assert preview["target"]["label"] == "客厅小智"
    assert preview["would_erase"]["messages"] == 6
    assert api.get(f"/api/v2/devices/{LIVING_ROOM}/erasure").json() == preview
    assert api.delete(f"/api/v2/devices/{LIVING_ROOM}").json()["erased"] == preview["would_erase"]


def test_deleting_a_session_leaves_its_conversation_not_found(api: httpx.Client) -> None:
    erased = api.delete("/api/v2/sessions/s-weather").json()
    assert erased["target"] == {"kind": "session", "id": "s-weather", "label": "深圳天气"}
    assert (erased["erased"]["messages"], erased["erased"]["sessions"]) == (4, 1)
    assert api.get("/api/v2/sessions/s-weather/messages").status_code == 404
    assert api.get("/api/v2/messages/search", params={"q": "深圳"}).json()["items"] == []


def test_deleting_an_agent_erases_its_devices_history(api: httpx.Client) -> None:
    erased = api.delete("/api/v2/agents/agent-en").json()
    assert erased["target"] == {"kind": "agent", "id": "agent-en", "label": "English Tutor"}
    assert erased["erased"]["messages"] == 2
    sessions = api.get("/api/v2/sessions").json()["items"]
    assert {s["session_id"] for s in sessions} == {"s-weather", "s-music"}


@pytest.mark.parametrize(
    "path", ["/api/v2/sessions/nope", "/api/v2/devices/aa:bb:cc:99:99:99", "/api/v2/agents/nope"]
)
def test_an_unknown_id_is_a_404_and_nothing_changes(api: httpx.Client, path: str) -> None:
    for response in (api.delete(path), api.get(path + "/erasure")):
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    assert len(api.get("/api/v2/sessions").json()["items"]) == 3


def test_erasing_needs_admin_credentials(api: httpx.Client) -> None:
    response = api.delete(f"/api/v2/devices/{LIVING_ROOM}", headers={"Authorization": ""})
    assert response.status_code == 401
    assert len(api.get("/api/v2/devices").json()["items"]) == 2


def test_the_erasure_is_audited_with_who_and_from_where(api: httpx.Client, store_url: str) -> None:
    api.delete("/api/v2/sessions/s-music")
    [entry] = asyncio.run(_entries(store_url))
    assert (entry["actor"], entry["actor_kind"], entry["address"]) == (
        "api-token",
        "token",
        "127.0.0.1",
    )
    assert entry["target"] == "session s-music"
    assert entry["detail"] == {
        "sessions": 1,
        "messages": 2,
        "audio": 0,
        "audio_bytes": 0,
        "devices": 0,
    }


def test_the_openapi_document_describes_the_answers(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    answer = document["paths"]["/api/v2/devices/{device_id}"]["delete"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ErasureReport")
    assert "ErasurePreview" in document["components"]["schemas"]
