"""Message search: FTS5 over CJK bigrams on SQLite, LIKE elsewhere (correct, slower)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.sql import Select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.marks import messages_matching
from xiaozhi_server.store.patterns import contains
from xiaozhi_server.store.search_terms import index_terms, query_phrase
from xiaozhi_server.store.sqlite_writes import dbapi
from xiaozhi_server.store.tables import messages

_INDEX = text("INSERT INTO message_terms (rowid, terms) VALUES (:id, :terms)")
_RAW_INDEX = "INSERT INTO message_terms (rowid, terms) VALUES (?, ?)"


def index_messages(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Add newly stored messages to the search index (SQLite keeps one)."""
    if rows and connection.dialect.name == "sqlite":
        connection.execute(
            _INDEX, [{"id": r["id"], "terms": index_terms(r["content"])} for r in rows]
        )


def is_indexed(connection: Connection) -> bool:
    """True when the store keeps a search index (SQLite)."""
    return connection.dialect.name == "sqlite"


def index_prepared(connection: Connection, terms: list[tuple[int, str]]) -> None:
    """Add (message id, its terms from ``index_terms``) to the index."""
    if terms and is_indexed(connection):
        dbapi(connection).executemany(_RAW_INDEX, terms)


def unindex_messages(connection: Connection, ids: list[int]) -> None:
    """Remove deleted messages from the search index."""
    if ids and connection.dialect.name == "sqlite":
        for start in range(0, len(ids), 500):
            # integer rowids written into the statement: binding each one cost more Python
            # time than the index took to delete them
            listed = ",".join(str(int(i)) for i in ids[start : start + 500])
            connection.execute(text(f"DELETE FROM message_terms WHERE rowid IN ({listed})"))


async def search_messages(
    store: Store,
    query: str,
    limit: int,
    before_id: int | None = None,
    device: str | None = None,
    agent: str | None = None,
    chat_type: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    starred: bool | None = None,
    tag: str | None = None,
    speaker: str | None = None,
) -> list[dict[str, Any]]:
    """Messages containing ``query`` (case-insensitive), newest first, after the filters
    (``starred`` and ``tag``: marks, as store/marks.py matches them)."""
    statement = select(messages).order_by(messages.c.id.desc()).limit(limit)
    statement = statement.where(*messages_matching(starred, tag))
    statement = _matching(statement, query, store.dialect)
    if before_id is not None:
        statement = statement.where(messages.c.id < before_id)
    if device is not None:
        statement = statement.where(messages.c.device == device)
    if agent is not None:
        statement = statement.where(messages.c.agent_id == agent)
    if chat_type is not None:
        statement = statement.where(messages.c.chat_type == chat_type)
    if since is not None:
        statement = statement.where(messages.c.created_at >= since)
    if until is not None:
        statement = statement.where(messages.c.created_at < until)
    if speaker is not None:
        statement = statement.where(messages.c.speaker == speaker)
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(statement)]


def _matching(statement: Select[Any], query: str, dialect: str) -> Select[Any]:
    phrase = query_phrase(query) if dialect == "sqlite" else None
    if phrase is not None:
        indexed = text("SELECT rowid FROM message_terms WHERE message_terms MATCH :phrase")
        statement = statement.where(messages.c.id.in_(indexed.bindparams(phrase=phrase)))
    # The index finds candidates by terms; the exact substring check keeps results precise.
    return statement.where(contains(messages.c.content, query))
