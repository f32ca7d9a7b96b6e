"""Statements run by SQLite's own driver answer exactly as through SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    insert,
    select,
    update,
)

from xiaozhi_server.store.driver_statements import fetch, insert_rows, run_many, stream
from xiaozhi_server.store.types import UtcDateTime

metadata = MetaData()
things = Table(
    "things",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("seen_at", UtcDateTime, nullable=True),
)
_BY_NAMES = select(things).where(things.c.name.in_(bindparam("names", expanding=True)))
_NAMED = things.c.name.in_(bindparam("names", expanding=True))
_ADD = (
    update(things)
    .where(things.c.name == bindparam("k_name"))
    .values(count=things.c.count + bindparam("step"))
)
_AT = datetime(2026, 12, 1, 8, 30, 0, 123000, tzinfo=UTC)


@pytest.fixture
def connection(tmp_path: Path) -> Iterator[Connection]:
    engine = create_engine(f"sqlite:///{tmp_path / 'driver.db'}")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(insert(things), [{"name": "a", "count": 1, "seen_at": _AT}])
        yield connection
    engine.dispose()


def test_rows_inserted_by_the_driver_read_back_through_sqlalchemy(connection: Connection) -> None:
    run_many(connection, insert(things), [{"name": "b", "count": 2, "seen_at": None}])
    assert connection.execute(select(things.c.count).where(things.c.name == "b")).scalar() == 2


def test_an_update_runs_once_per_row(connection: Connection) -> None:
    run_many(connection, _ADD, [{"k_name": "a", "step": 5}, {"k_name": "a", "step": 10}])
    assert connection.execute(select(things.c.count)).scalar() == 16


def test_an_in_list_finds_exactly_its_members(connection: Connection) -> None:
    run_many(connection, insert(things), [{"name": n, "count": 0, "seen_at": None} for n in "bcd"])
    found = fetch(connection, _BY_NAMES, {"names": ["a", "c", "zz"]})
    assert sorted(row["name"] for row in found) == ["a", "c"]


def test_times_come_back_as_the_datetimes_stored(connection: Connection) -> None:
    [row] = fetch(connection, _BY_NAMES, {"names": ["a"]})
    assert row == {"name": "a", "count": 1, "seen_at": _AT}


def test_an_empty_list_of_rows_runs_nothing(connection: Connection) -> None:
    run_many(connection, insert(things), [])
    assert connection.execute(select(things.c.name)).scalars().all() == ["a"]


def test_rows_inserted_as_tuples_land_in_their_columns(connection: Connection) -> None:
    insert_rows(connection, things, ("count", "name"), [(7, "t1"), (8, "t2")])
    query = select(things.c.name, things.c.count).where(things.c.name.like("t%"))
    assert sorted(connection.execute(query).all()) == [("t1", 7), ("t2", 8)]


def test_a_stream_yields_every_row_as_a_tuple(connection: Connection) -> None:
    run_many(connection, insert(things), [{"name": "b", "count": 2, "seen_at": None}])
    rows = stream(
        connection, select(things.c.name, things.c.count).where(_NAMED), {"names": ["a", "b"]}
    )
    assert sorted(tuple(row) for row in rows) == [("a", 1), ("b", 2)]
