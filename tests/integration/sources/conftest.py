"""An upstream MariaDB that writes a row binlog, as MySQL 8 does by default: started once
with full row metadata and once with the MySQL 8 default (MINIMAL: no column names)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.servers import MariaDB, running_mariadb
from tests.support.upstream import Upstream, upstream_database


@pytest.fixture(scope="session", params=["FULL", "MINIMAL"])
def binlog_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[MariaDB]:
    """A MariaDB with ``--log-bin --binlog-format=ROW`` and the given row metadata."""
    options = (
        "--log-bin=binlog",
        "--binlog-format=ROW",
        "--server-id=1",
        f"--binlog-row-metadata={request.param}",
    )
    with running_mariadb(tmp_path_factory.mktemp("binlog-mariadb"), *options) as server:
        yield server


@pytest.fixture
def binlog_upstream(binlog_server: MariaDB) -> Iterator[Upstream]:
    """A fresh upstream database on the binlog-writing server."""
    with upstream_database(binlog_server) as made:
        yield made
