"""Empty stores of every kind the hub supports, each removed after use."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.postgres import PostgreSQL
from tests.support.servers import MariaDB

KINDS = ["sqlite", "mariadb", "postgresql"]


@contextmanager
def empty_store_url(kind: str, request: pytest.FixtureRequest, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database: an SQLite file in ``directory``, or a database on
    the session's MariaDB or PostgreSQL (started on first use); dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / f'store-{uuid.uuid4().hex[:8]}.db'}"
    elif kind == "postgresql":
        cluster: PostgreSQL = request.getfixturevalue("postgresql")
        database = cluster.create_database()
        try:
            yield cluster.url(database)
        finally:
            cluster.drop_database(database)
    elif kind == "mariadb":
        server: MariaDB = request.getfixturevalue("mariadb")
        database = f"t_{uuid.uuid4().hex[:12]}"
        server.sql(f"CREATE DATABASE {database} CHARACTER SET utf8mb4")
        try:
            yield server.url(database)
        finally:
            server.sql(f"DROP DATABASE {database}")
    else:
        raise ValueError(f"unknown store kind {kind!r}")
