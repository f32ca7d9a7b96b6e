"""Stars, notes and tags: on a session (``message_id`` 0) or on one of its messages.

Marks are the hub's users' own words about a device's conversation, so they live and die
with it: deleting messages or sessions (erasure, retention, mirrored upstream deletes)
forgets their marks in the same transaction (``forget_messages``, ``forget_sessions``).
A change locks its session's row first, so it cannot slip in after an erasure removed it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, delete, func, insert, or_, select, update

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.dialects import insert_ignoring_duplicates
from xiaozhi_server.store.tables import SESSION_MARK, mark_tags, marks, messages, sessions
from xiaozhi_server.store.writes import chunked

Target = tuple[str, int]  # (session_id, message_id); message_id 0 is the session itself


@dataclass(frozen=True, slots=True)
class Change:
    """What to change; a field left None stays as it is (``clear_note`` removes the note)."""

    starred: bool | None = None
    note: str | None = None
    clear_note: bool = False
    tags: Sequence[str] | None = None


class Gone(Exception):
    """The session or message to mark is not (or no longer) stored."""


def empty() -> dict[str, Any]:
    """The marks of something nobody marked."""
    return {"starred": False, "note": None, "tags": [], "updated_at": None, "updated_by": None}


async def marks_of(store: Store, targets: Iterable[Target]) -> dict[Target, dict[str, Any]]:
    """The marks of these targets; unmarked ones are left out."""
    async with store.read() as connection:
        return await connection.run_sync(lambda sync: read_marks(sync, list(targets)))


async def marks_in_session(store: Store, session_id: str) -> dict[Target, dict[str, Any]]:
    """Every mark of one session: the session's own and its messages'."""
    async with store.read() as connection:
        return await connection.run_sync(lambda sync: _session_marks(sync, session_id))


def _session_marks(connection: Connection, session_id: str) -> dict[Target, dict[str, Any]]:
    found: dict[Target, dict[str, Any]] = {}
    for row in connection.execute(select(marks).where(marks.c.session_id == session_id)):
        found[(row.session_id, row.message_id)] = _from_row(row)
    tagged = select(mark_tags).where(mark_tags.c.session_id == session_id)
    for row in connection.execute(tagged.order_by(mark_tags.c.tag)):
        key = (row.session_id, row.message_id)
        found.setdefault(key, empty())["tags"].append(row.tag)
    return found


def read_marks(connection: Connection, targets: list[Target]) -> dict[Target, dict[str, Any]]:
    """The marks of these targets, a query per 500 sessions (for pages and exports)."""
    wanted = set(targets)
    found: dict[Target, dict[str, Any]] = {}
    for part in chunked(sorted({session for session, _ in wanted})):
        for row in connection.execute(select(marks).where(marks.c.session_id.in_(part))):
            key = (row.session_id, row.message_id)
            if key in wanted:
                found[key] = _from_row(row)
        tagged = select(mark_tags).where(mark_tags.c.session_id.in_(part))
        for row in connection.execute(tagged.order_by(mark_tags.c.tag)):
            key = (row.session_id, row.message_id)
            if key in wanted:
                found.setdefault(key, empty())["tags"].append(row.tag)
    return found


def _from_row(row: Any) -> dict[str, Any]:
    return {
        "starred": bool(row.starred),
        "note": row.note,
        "tags": [],
        "updated_at": row.updated_at,
        "updated_by": row.updated_by,
    }


async def change(store: Store, target: Target, wanted: Change, actor: str) -> dict[str, Any]:
    """Apply ``wanted`` to ``target`` for ``actor``; return its marks. Raises Gone."""
    return await store.run_write(lambda connection: _change(connection, target, wanted, actor))


def _change(connection: Connection, target: Target, wanted: Change, actor: str) -> dict[str, Any]:
    session_id, message_id = target
    _lock_session(connection, session_id, message_id)
    now = datetime.now(UTC)
    key = {"session_id": session_id, "message_id": message_id}
    connection.execute(
        insert_ignoring_duplicates(connection.dialect, marks),
        [{**key, "starred": False, "note": None, "updated_at": now, "updated_by": actor}],
    )
    values: dict[str, Any] = {"updated_at": now, "updated_by": actor[:64]}
    if wanted.starred is not None:
        values["starred"] = wanted.starred
    if wanted.note is not None or wanted.clear_note:
        values["note"] = wanted.note
    connection.execute(update(marks).where(*_is(marks, target)).values(**values))
    if wanted.tags is not None:
        connection.execute(delete(mark_tags).where(*_is(mark_tags, target)))
        tags = sorted(set(wanted.tags))
        if tags:
            connection.execute(insert(mark_tags), [{**key, "tag": tag} for tag in tags])
    current = read_marks(connection, [target])[target]
    if not (current["starred"] or current["note"] or current["tags"]):
        connection.execute(delete(marks).where(*_is(marks, target)))
    return current


def _lock_session(connection: Connection, session_id: str, message_id: int) -> None:
    """Hold the session's row (and check the message is its) until the change commits."""
    found = connection.execute(
        select(sessions.c.session_id).where(sessions.c.session_id == session_id).with_for_update()
    ).first()
    if found is None:
        raise Gone(f"session {session_id!r}")
    if message_id != SESSION_MARK:
        owner = connection.execute(
            select(messages.c.id).where(
                messages.c.id == message_id, messages.c.session_id == session_id
            )
        ).first()
        if owner is None:
            raise Gone(f"message {message_id}")


def _is(table: Any, target: Target) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return table.c.session_id == target[0], table.c.message_id == target[1]


def sessions_matching(starred: bool | None, tag: str | None) -> list[ColumnElement[bool]]:
    """Conditions on ``sessions``: starred (or not), and tagged ``tag`` on the session or
    on one of its messages."""
    conditions: list[ColumnElement[bool]] = []
    if starred is not None:
        conditions.append(_starred(sessions.c.session_id, starred))
    if tag is not None:
        tagged = select(mark_tags.c.session_id).where(mark_tags.c.tag == tag)
        conditions.append(sessions.c.session_id.in_(tagged))
    return conditions


def messages_matching(starred: bool | None, tag: str | None) -> list[ColumnElement[bool]]:
    """Conditions on ``messages``: in a starred (or unstarred) session, and tagged ``tag``
    themselves or through their session."""
    conditions: list[ColumnElement[bool]] = []
    if starred is not None:
        conditions.append(_starred(messages.c.session_id, starred))
    if tag is not None:
        own = select(mark_tags.c.message_id).where(mark_tags.c.tag == tag)
        session_wide = select(mark_tags.c.session_id).where(
            mark_tags.c.tag == tag, mark_tags.c.message_id == SESSION_MARK
        )
        conditions.append(or_(messages.c.id.in_(own), messages.c.session_id.in_(session_wide)))
    return conditions


def _starred(session_id: ColumnElement[Any], starred: bool) -> ColumnElement[bool]:
    stars = select(marks.c.session_id).where(
        and_(marks.c.message_id == SESSION_MARK, marks.c.starred.is_(True))
    )
    return session_id.in_(stars) if starred else session_id.not_in(stars)


async def tag_counts(store: Store) -> list[dict[str, Any]]:
    """Every tag in use, with how many sessions carry it (on themselves or a message)."""
    query = (
        select(mark_tags.c.tag, func.count(mark_tags.c.session_id.distinct()))
        .group_by(mark_tags.c.tag)
        .order_by(mark_tags.c.tag)
    )
    async with store.read() as connection:
        rows = (await connection.execute(query)).all()
    return [{"tag": tag, "sessions": int(count)} for tag, count in rows]


def forget_sessions(connection: Connection, session_ids: Iterable[str]) -> None:
    """Delete every mark of these sessions (they are being deleted)."""
    for part in chunked(sorted(set(session_ids))):
        connection.execute(delete(mark_tags).where(mark_tags.c.session_id.in_(part)))
        connection.execute(delete(marks).where(marks.c.session_id.in_(part)))


def forget_messages(connection: Connection, message_ids: Iterable[int]) -> None:
    """Delete the marks of these messages (they are being deleted)."""
    for part in chunked(sorted(set(message_ids))):
        connection.execute(delete(mark_tags).where(mark_tags.c.message_id.in_(part)))
        connection.execute(delete(marks).where(marks.c.message_id.in_(part)))


async def session_of_message(store: Store, message_id: int) -> str | None:
    """The session a message belongs to, or None if there is no such message."""
    query = select(messages.c.session_id).where(messages.c.id == message_id)
    async with store.read() as connection:
        return (await connection.execute(query)).scalar_one_or_none()
