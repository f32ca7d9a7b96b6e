"""Case-insensitive "contains" filters where the user's text is literal, wildcards included."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement


def contains(column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
    """``column`` contains ``text``, ignoring case; ``%``, ``_`` and ``\\`` match themselves."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")
