"""Fixtures shared by every test: real stores (SQLite, MariaDB, PostgreSQL), upstream databases
(on a plain MariaDB, and on one writing a row binlog as MySQL 8 does) and settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.postgres import PostgreSQL, running_postgres
from tests.support.servers import MariaDB, running_mariadb, running_redis
from tests.support.stores import KINDS, empty_store_url
from tests.support.upstream import Upstream, upstream_database
from xiaozhi_server.config import Settings
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: everything else runs before Chromium and Playwright start."""
    items.sort(key=lambda item: "/e2e/" in str(item.path))


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """One MariaDB server for the whole session (started on first use)."""
    with running_mariadb(tmp_path_factory.mktemp("mariadb")) as server:
        yield server


@pytest.fixture(scope="session")
def postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgreSQL]:
    """One PostgreSQL cluster for the whole session (started on first use)."""
    with running_postgres(tmp_path_factory.mktemp("postgresql")) as server:
        yield server


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One redis-server for the whole session (started on first use)."""
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url


@contextmanager
def _binlog_mariadb(base: Path, row_metadata: str) -> Iterator[MariaDB]:
    options = (
        "--log-bin=binlog",
        "--binlog-format=ROW",
        "--server-id=1",
        f"--binlog-row-metadata={row_metadata}",
    )
    with running_mariadb(base, *options) as server:
        yield server


@pytest.fixture(scope="session")
def binlog_server_full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A MariaDB writing a row binlog with full row metadata (column names included)."""
    with _binlog_mariadb(tmp_path_factory.mktemp("binlog-full"), "FULL") as server:
        yield server


@pytest.fixture(scope="session")
def binlog_server_minimal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    """A MariaDB writing a row binlog with MySQL 8's default, minimal row metadata (no
    column names)."""
    with _binlog_mariadb(tmp_path_factory.mktemp("binlog-minimal"), "MINIMAL") as server:
        yield server


@pytest.fixture(scope="session", params=["FULL", "MINIMAL"])
def binlog_server(request: pytest.FixtureRequest) -> MariaDB:
    """A MariaDB writing a row binlog (``--log-bin --binlog-format=ROW``, as MySQL 8 does):
    once with full row metadata, once with the MySQL 8 default (MINIMAL: no column names)."""
    server: MariaDB = request.getfixturevalue(f"binlog_server_{request.param.lower()}")
    return server


@pytest.fixture
def binlog_upstream(binlog_server: MariaDB) -> Iterator[Upstream]:
    """A fresh upstream database on the binlog-writing server."""
    with upstream_database(binlog_server) as made:
        yield made


@pytest.fixture(params=KINDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: an SQLite file, or a fresh database on the test MariaDB or
    PostgreSQL."""
    with empty_store_url(request.param, request, tmp_path) as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    """A migrated store, closed after the test."""
    opened = Store(store_url)
    await migrate.upgrade(opened.engine)
    yield opened
    await opened.close()


@pytest.fixture
def upstream(mariadb: MariaDB) -> Iterator[Upstream]:
    """A fresh upstream xiaozhi-esp32-server database (tables only) on the test MariaDB."""
    with upstream_database(mariadb) as made:
        yield made


@pytest.fixture
def settings(store_url: str) -> Settings:
    """Settings pointing at the test store, with a known API token and admin."""
    return Settings.model_validate(
        {
            "storage": {"url": store_url},
            "auth": {"api_tokens": ["test-token"], "admin_password": "test-password"},
        }
    )
