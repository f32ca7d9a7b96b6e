"""Marks in exports: each message carries its session's star, note and tags and its own.

JSON lines get ``starred``, ``session_note``, ``session_tags``, ``note`` and ``tags``; CSV
the same columns (tags comma-separated: a tag holds no comma); the transcript a line
under a session's heading and under each marked message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from xiaozhi_server.services import Services
from xiaozhi_server.store import marks
from xiaozhi_server.store.tables import SESSION_MARK

MARK_COLUMNS = ["starred", "session_note", "session_tags", "note", "tags"]
_MARKS = "marks"


async def with_marks(
    services: Services, pages: AsyncIterator[list[dict[str, Any]]]
) -> AsyncIterator[list[dict[str, Any]]]:
    """Each page's rows with their marks attached (one read per page)."""
    async for rows in pages:
        targets = {(row["session_id"], SESSION_MARK) for row in rows}
        targets |= {(row["session_id"], row["id"]) for row in rows}
        found = await marks.marks_of(services.store, targets)
        yield [row | {_MARKS: mark_fields(row, found)} for row in rows]


def mark_fields(row: dict[str, Any], found: dict[marks.Target, dict[str, Any]]) -> dict[str, Any]:
    """The five mark fields of one message."""
    session = found.get((row["session_id"], SESSION_MARK)) or marks.empty()
    own = found.get((row["session_id"], row["id"])) or marks.empty()
    return {
        "starred": session["starred"],
        "session_note": session["note"],
        "session_tags": session["tags"],
        "note": own["note"],
        "tags": own["tags"],
    }


def marks_of_row(row: dict[str, Any]) -> dict[str, Any]:
    """The mark fields ``with_marks`` attached to ``row``."""
    fields: dict[str, Any] = row[_MARKS]
    return fields


def csv_cells(row: dict[str, Any]) -> list[Any]:
    """The mark columns of a CSV row (tags comma-separated)."""
    fields = marks_of_row(row)
    return [
        ",".join(value) if isinstance(value, list) else value
        for value in (fields[column] for column in MARK_COLUMNS)
    ]


def session_heading(row: dict[str, Any]) -> str:
    """Lines under a transcript's session heading: star, tags and note (if any)."""
    fields = marks_of_row(row)
    parts = ["★ 星标 Starred"] if fields["starred"] else []
    if fields["session_tags"]:
        parts.append("# " + ", ".join(fields["session_tags"]))
    lines = "".join(f"    {part}\n" for part in parts)
    if fields["session_note"]:
        lines += f"    ✎ {fields['session_note']}\n"
    return lines


def message_lines(row: dict[str, Any]) -> str:
    """Lines under a transcript's message: its tags and note (if any)."""
    fields = marks_of_row(row)
    lines = f"    # {', '.join(fields['tags'])}\n" if fields["tags"] else ""
    if fields["note"]:
        lines += f"    ✎ {fields['note']}\n"
    return lines
