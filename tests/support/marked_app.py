"""A seeded app whose marks and shares tests may change, with an admin's and a viewer's token.

Import ``writable`` into a test module to use it; ``admin`` and ``viewer`` are HTTP
clients; ``unmarked`` clears every mark of the seed's sessions before a test.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_app import SEEDED_TOKEN, LiveApp, serving_seeded
from tests.support.stores import KINDS, empty_store_url

VIEWER_TOKEN = "viewer-token"
SEEDED_SESSIONS = ("s-weather", "s-music", "s-english")
NOTHING: dict[str, object] = {"starred": False, "note": None, "tags": []}


@pytest.fixture(scope="module", params=KINDS)
def writable(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApp]:
    """The seed data set on SQLite, MariaDB and PostgreSQL, open to changes."""
    tokens = [SEEDED_TOKEN, {"token": VIEWER_TOKEN, "role": "viewer", "name": "reader"}]
    with (
        empty_store_url(request.param, request, tmp_path_factory.mktemp("marks")) as url,
        serving_seeded(url, auth={"api_tokens": tokens}) as app,
    ):
        yield app


def client(app: LiveApp, token: str | None) -> httpx.Client:
    """An HTTP client for ``app`` with ``token`` (None: no credentials)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=app.base_url, headers=headers, timeout=30)


@pytest.fixture
def admin(writable: LiveApp) -> Iterator[httpx.Client]:
    """An admin's client, after every mark of the seed's sessions was cleared."""
    with client(writable, SEEDED_TOKEN) as http:
        for session_id in SEEDED_SESSIONS:
            http.patch(f"/api/v2/sessions/{session_id}/marks", json=NOTHING).raise_for_status()
            for mark in http.get(f"/api/v2/sessions/{session_id}/marks").json()["messages"]:
                http.patch(
                    f"/api/v2/messages/{mark['message_id']}/marks", json={"note": None, "tags": []}
                ).raise_for_status()
        yield http


@pytest.fixture
def viewer(writable: LiveApp, admin: httpx.Client) -> Iterator[httpx.Client]:
    """A viewer's client (marks cleared first, as for ``admin``)."""
    with client(writable, VIEWER_TOKEN) as http:
        yield http


def message_id(http: httpx.Client, session_id: str, content: str) -> int:
    """The id of the message of ``session_id`` whose content is ``content``."""
    items = http.get(f"/api/v2/sessions/{session_id}/messages").json()["items"]
    found: int = next(item["id"] for item in items if item["content"] == content)
    return found
