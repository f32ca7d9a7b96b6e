"""One seeded app per store for the read-API tests (reads do not change the store)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.live_app import SEEDED_TOKEN, LiveApp, serving_seeded
from tests.support.stores import KINDS, empty_store_url

AUTH = {"Authorization": f"Bearer {SEEDED_TOKEN}"}


@pytest.fixture(scope="module", params=KINDS)
def seeded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveApp]:
    """The app serving the seed data set, on SQLite, MariaDB and PostgreSQL."""
    with (
        empty_store_url(request.param, request, tmp_path_factory.mktemp("api")) as url,
        serving_seeded(url) as app,
    ):
        yield app


@pytest.fixture
def api(seeded: LiveApp) -> Iterator[httpx.Client]:
    """An HTTP client for the seeded app, authenticated with an API token."""
    with httpx.Client(base_url=seeded.base_url, headers=AUTH, timeout=30) as client:
        yield client
