"""Statements whose spelling differs between databases."""

from __future__ import annotations

from sqlalchemy import Insert, Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect


def insert_ignoring_duplicates(dialect: Dialect, table: Table) -> Insert:
    """INSERT that silently skips rows whose unique key already exists."""
    name = dialect.name
    if name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return insert(table).prefix_with("IGNORE")
