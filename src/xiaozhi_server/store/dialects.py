"""Statements whose spelling differs between databases."""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Insert, Table, case, insert
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Dialect


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
