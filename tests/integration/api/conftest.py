"""One seeded app per store for the read-API tests (reads do not change the store)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_app import SEEDED_TOKEN, LiveApp, serving_seeded
from tests.support.servers import MariaDB

AUTH = {"Authorization": f"Bearer {SEEDED_TOKEN}"}


@pytest.fixture(scope="module", params=["sqlite", "mariadb"])
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApp]:
    """The app serving the seed data set, on SQLite and on MariaDB."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('api') / 'store.db'}"
    else:
        server: MariaDB = request.getfixturevalue("mariadb")
        name = f"api_{uuid.uuid4().hex[:10]}"
        server.sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
        url = server.url(name)
    with serving_seeded(url) as app:
        yield app


@pytest.fixture
def api(seeded: LiveApp) -> Iterator[httpx.Client]:
    """An HTTP client for the seeded app, authenticated with an API token."""
    with httpx.Client(base_url=seeded.base_url, headers=AUTH, timeout=30) as client:
        yield client
