"""Substring matching that means the same on SQLite, MySQL/MariaDB and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement


def contains(column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
    """``column`` contains ``text``, ignoring case; %, _ and \\ in ``text`` are literal.

    The escape character is named explicitly: PostgreSQL and MySQL default to a
    backslash, SQLite has none.
    """
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
