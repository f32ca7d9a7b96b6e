"""Statements whose spelling differs between databases."""

from __future__ import annotations

import functools

from sqlalchemy import Insert, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
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
