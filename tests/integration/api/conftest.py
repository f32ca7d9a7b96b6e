"""One seeded app per store for the read-API tests (reads do not change the store)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_app import LiveApp, serving
from tests.support.seed import seed
from tests.support.stores import KINDS, empty_store_url
from xiaozhi_server.config import Settings

AUTH = {"Authorization": "Bearer test-token"}


@pytest.fixture(scope="module", params=KINDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApp]:
    """The app serving the seed data set, on SQLite, MariaDB and PostgreSQL."""
    with empty_store_url(request.param, request, tmp_path_factory.mktemp("api")) as url:
        asyncio.run(seed(url))
        settings = Settings.model_validate(
            {
                "storage": {"url": url},
                "auth": {"api_tokens": ["test-token"], "admin_password": "pw"},
            }
        )
        with serving(settings) as app:
            yield app


@pytest.fixture
def api(seeded: LiveApp) -> Iterator[httpx.Client]:
    """An HTTP client for the seeded app, authenticated with an API token."""
    with httpx.Client(base_url=seeded.base_url, headers=AUTH, timeout=30) as client:
        yield client
