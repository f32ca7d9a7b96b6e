"""Statements whose spelling differs between databases."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Insert, Integer, Table, case, insert
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


def insert_ignoring_duplicates(dialect: Dialect, table: Table) -> Insert:
    """INSERT that silently skips rows whose unique key already exists."""
    return _insert_ignoring(dialect.name, table)


@functools.cache
def _insert_ignoring(dialect_name: str, table: Table) -> Insert:
    # Cached: building a statement costs more than SQLite spends running a small one.
    if dialect_name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect_name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return insert(table).prefix_with("IGNORE")


def insert_adding(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> Insert:
    """INSERT of counter rows that, for a key already stored, adds the counters to it."""
    return _insert_adding(dialect.name, table, keys)


@functools.cache
def _insert_adding(dialect_name: str, table: Table, keys: tuple[str, ...]) -> Insert:
    counters = [column for column in table.columns if column.name not in keys]
    if dialect_name in ("sqlite", "postgresql"):
        module: Any = sqlite if dialect_name == "sqlite" else postgresql
        statement = module.insert(table)
        return statement.on_conflict_do_update(  # type: ignore[no-any-return]
            index_elements=list(keys),
            set_={c.name: c + statement.excluded[c.name] for c in counters},
        )
    statement = mysql.insert(table)
    return statement.on_duplicate_key_update(
        {c.name: c + statement.inserted[c.name] for c in counters}
    )


def insert_widening(dialect: Dialect, table: Table, keys: tuple[str, ...]) -> Insert:
    """INSERT of (key, low, high) rows (``table``'s other two columns, low first) that, for a
    key already stored, widens its stored [low, high] to cover the new one (no IGNORE: MariaDB
    would warn for every key already there)."""
    return _insert_widening(dialect.name, table, keys)


@functools.cache
def _insert_widening(dialect_name: str, table: Table, keys: tuple[str, ...]) -> Insert:
    low, high = [column for column in table.columns if column.name not in keys]
    if dialect_name in ("sqlite", "postgresql"):
        module: Any = sqlite if dialect_name == "sqlite" else postgresql
        statement = module.insert(table)
        new = statement.excluded
    else:
        statement = mysql.insert(table)
        new = statement.inserted
    widened = {
        low.name: case((new[low.name] < low, new[low.name]), else_=low),
        high.name: case((new[high.name] > high, new[high.name]), else_=high),
    }
    if dialect_name == "mysql":
        return statement.on_duplicate_key_update(widened)  # type: ignore[no-any-return]
    return statement.on_conflict_do_update(  # type: ignore[no-any-return]
        index_elements=list(keys), set_=widened
    )


class QuarterOf(FunctionElement[int]):
    """``QuarterOf(column)``: the quarter (store/quarters.py: 15 minutes of UTC from the
    epoch) a stored UtcDateTime falls in, computed by the database: a recount groups a
    million messages by it in SQL instead of making each one a datetime in Python."""

    type = Integer()
    inherit_cache = True
    name = "quarter_of"


@compiles(QuarterOf, "sqlite")
def _quarter_sqlite(element: QuarterOf, compiler: SQLCompiler, **kw: Any) -> str:
    # the text '2026-11-24 08:30:00.123'; '%s' drops the milliseconds (times are after 1970)
    return f"(CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER) / 900)"


@compiles(QuarterOf, "mysql")
def _quarter_mysql(element: QuarterOf, compiler: SQLCompiler, **kw: Any) -> str:
    # naive UTC DATETIME: counted from the epoch as written, whatever the session's time zone
    column = compiler.process(element.clauses, **kw)
    return f"(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {column}) DIV 900)"


@compiles(QuarterOf, "postgresql")
def _quarter_postgresql(element: QuarterOf, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT(EPOCH) of a timestamp without time zone counts it as UTC
    column = compiler.process(element.clauses, **kw)
    return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column}) / 900) AS INTEGER)"
