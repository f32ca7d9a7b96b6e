"""Fixed statements run by SQLite's own driver: compiled once, then executed by ``sqlite3``.

Through SQLAlchemy an execute costs 50–150 µs of Python (cache key, parameter processing,
an ``IN`` list expanded anew, result wrapping) — more than SQLite spends on a small
statement. The statistics rollups run about ten statements in every write transaction, so
on SQLite each is compiled once to SQLite's SQL and handed to the driver's connection (the
same transaction). An expanding ``IN`` list becomes ``IN (SELECT value FROM json_each(?))``
with the list as one JSON parameter, so the text stays fixed. Parameters must be integers or
text; of the results, only ``UtcDateTime`` columns are converted (from their stored text).
Anywhere else (MariaDB, PostgreSQL, an async driver) the statements go through SQLAlchemy.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Delete, Insert, Select, Table, Update

from xiaozhi_server.store.sqlite_writes import dbapi
from xiaozhi_server.store.types import UtcDateTime, from_utc_text

Params = Mapping[str, Any]
Statement = Insert | Update | Delete | Select[Any]
_EXPANDING = re.compile(r"\(__\[POSTCOMPILE_(\w+)\]\)")


class _Compiled:
    """A statement as SQLite's SQL: its text, its parameters in order, the defaults of those
    it holds itself, the names of its result columns and which of them hold times."""

    def __init__(self, connection: Connection, statement: Statement, example: Params) -> None:
        compiled = statement.compile(dialect=connection.dialect, column_keys=list(example))
        self.expanding = set(_EXPANDING.findall(compiled.string))
        self.sql = _EXPANDING.sub("(SELECT value FROM json_each(?))", compiled.string)
        self.names = tuple(compiled.positiontup or ())
        self.defaults = compiled.construct_params(
            {name: ([] if name in self.expanding else value) for name, value in example.items()}
        )
        columns = list(statement.selected_columns) if isinstance(statement, Select) else []
        self.columns = [column.name for column in columns]
        self.times = [i for i, column in enumerate(columns) if isinstance(column.type, UtcDateTime)]
        self.statement = statement  # holds the id this entry is cached under

    def values(self, row: Params) -> tuple[Any, ...]:
        """``row``'s parameters in the statement's order (lists as JSON)."""
        return tuple(self._value(row, name) for name in self.names)

    def _value(self, row: Params, name: str) -> Any:
        value = row[name] if name in row else self.defaults[name]
        return json.dumps(list(value)) if name in self.expanding else value

    def as_dict(self, row: tuple[Any, ...]) -> dict[str, Any]:
        """A result row by column name, times as datetimes."""
        values = list(row)
        for at in self.times:
            if values[at] is not None:
                values[at] = from_utc_text(values[at])
        return dict(zip(self.columns, values, strict=True))


_cache: dict[tuple[int, tuple[str, ...]], _Compiled] = {}


def run_many(connection: Connection, statement: Statement, rows: Sequence[Params]) -> None:
    """``statement`` once per row of ``rows`` (every row with the same keys)."""
    if not rows:
        return
    driver = _sqlite(connection)
    if driver is None:
        connection.execute(statement, list(rows))
        return
    compiled = _compile(connection, statement, rows[0])
    driver.executemany(compiled.sql, [compiled.values(row) for row in rows])


def fetch(connection: Connection, statement: Select[Any], params: Params) -> list[dict[str, Any]]:
    """The rows of ``statement`` with ``params``, by column name."""
    driver = _sqlite(connection)
    if driver is None:
        return [dict(row._mapping) for row in connection.execute(statement, dict(params))]
    compiled = _compile(connection, statement, params)
    rows = driver.execute(compiled.sql, compiled.values(params)).fetchall()
    return [compiled.as_dict(row) for row in rows]


def insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows``, each its values in the order of ``columns`` (plain tuples: for the
    million rows of a recount, a dict per row cost more than SQLite's insert)."""
    if not rows:
        return
    driver = _sqlite(connection)
    if driver is None:
        connection.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    marks = ", ".join("?" * len(columns))
    driver.executemany(f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", rows)


def stream(
    connection: Connection, statement: Select[Any], params: Params
) -> Iterator[Sequence[Any]]:
    """The rows of ``statement`` as plain tuples (times as stored: select none on SQLite).
    On SQLite they are read as they are iterated, so a scan of a big table holds one row
    at a time; the other drivers buffer the whole result."""
    driver = _sqlite(connection)
    if driver is None:
        return iter(connection.execute(statement, dict(params)))
    compiled = _compile(connection, statement, params)
    return iter(driver.execute(compiled.sql, compiled.values(params)))


def _sqlite(connection: Connection) -> sqlite3.Connection | None:
    if connection.dialect.name != "sqlite":
        return None
    driver = dbapi(connection)
    return driver if isinstance(driver, sqlite3.Connection) else None


def _compile(connection: Connection, statement: Statement, example: Params) -> _Compiled:
    # Keyed by id: the statements are module constants or cached builders' results, and the
    # entry holds its statement, so the id cannot pass to another object.
    key = (id(statement), tuple(example))
    compiled = _cache.get(key)
    if compiled is None:
        compiled = _cache[key] = _Compiled(connection, statement, example)
    return compiled
