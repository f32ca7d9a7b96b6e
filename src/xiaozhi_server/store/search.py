"""Message search through the search_grams index, the same on SQLite, MariaDB and PostgreSQL.

The write path adds a message's grams in the transaction that stores it, and every delete
removes them in the transaction that deletes it (``index_messages``, ``unindex_messages``).
A query walks the postings of its rarest gram newest first, keeps the candidates that have
its other grams too, and reads those messages whose text contains the query: the index
narrows, the substring check decides (store/search_terms.py says why it never misses).

SQLite keeps the same grams in an FTS5 table instead (``message_grams``, one row of gram
words per message), which intersects them in C and costs the write path a quarter of what
a row per gram did; MySQL/MariaDB and PostgreSQL keep a row per gram in ``search_grams``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.marks import messages_matching
from xiaozhi_server.store.patterns import contains
from xiaozhi_server.store.search_terms import grams, tokens
from xiaozhi_server.store.sqlite_writes import dbapi
from xiaozhi_server.store.tables import messages, search_grams

# A query's grams beyond this many add lookups per candidate and rarely remove any: the
# substring check does the rest.
MAX_GRAMS = 6
# How far to count each gram's postings when choosing the rarest (the counts cost an index
# range each; past this a gram is "common" and which common one drives matters little).
PROBE = 1000
MAX_PROBES = 12
# Postings read per step: the first step is small (a common word's newest hits are near),
# later ones grow, so a rare combination of common grams takes few round trips.
FIRST_CHUNK = 100
MAX_CHUNK = 6400
# Grams per DELETE statement when a message leaves the index.
_DELETE_BATCH = 2000


def index_messages(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Add newly stored messages (rows with id and content) to the search index."""
    if not rows:
        return
    if connection.dialect.name == "sqlite":
        connection.execute(
            _FTS_INSERT, [{"id": row["id"], "terms": tokens(grams(row["content"]))} for row in rows]
        )
        return
    entries = [{"gram": g, "message_id": row["id"]} for row in rows for g in grams(row["content"])]
    if entries:
        connection.execute(insert(search_grams), entries)


_FTS_INSERT = text("INSERT INTO message_grams (rowid, terms) VALUES (:id, :terms)")


def unindex_messages(connection: Connection, ids: Sequence[int]) -> None:
    """Remove these messages from the search index; call before deleting them (their
    text says which entries are theirs: search_grams has no message_id lookup of its own)."""
    for start in range(0, len(ids), 500):
        part = ",".join(str(int(i)) for i in ids[start : start + 500])
        if connection.dialect.name == "sqlite":
            connection.execute(text(f"DELETE FROM message_grams WHERE rowid IN ({part})"))
            continue
        found = connection.execute(
            text(f"SELECT id, content FROM messages WHERE id IN ({part})")
        ).all()
        groups, size = [], 0
        for row in found:
            hashes = grams(row.content)
            if hashes:
                # integers the store and the hash made: written into the statement, which
                # stays one round trip however many entries go
                groups.append(f"(message_id = {int(row.id)} AND gram IN ({_listed(hashes)}))")
                size += len(hashes)
            if size >= _DELETE_BATCH:
                _delete(connection, groups)
                groups, size = [], 0
        _delete(connection, groups)


def _listed(values: list[int]) -> str:
    return ",".join(str(int(v)) for v in values)


def _delete(connection: Connection, groups: list[str]) -> None:
    if groups:
        connection.execute(text(f"DELETE FROM search_grams WHERE {' OR '.join(groups)}"))


def keeps_words(connection: Connection) -> bool:
    """Whether the index takes a message's grams as words (SQLite's FTS5), which the write
    path may compute before its transaction (``search_terms.fts_words``)."""
    return connection.dialect.name == "sqlite"


def index_words(connection: Connection, words: list[tuple[int, str]]) -> None:
    """SQLite: add (message id, its ``search_terms.fts_words``) to the index."""
    if words:
        dbapi(connection).executemany(_RAW_FTS_INSERT, words)


_RAW_FTS_INSERT = "INSERT INTO message_grams (rowid, terms) VALUES (?, ?)"


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
    """Messages whose text may contain ``query`` (ASCII case ignored), newest first, after
    the filters. The store's LIKE decides here; ``search_terms.contains`` is the exact
    definition (stores differ beyond ASCII), which the API applies to what this returns."""
    conditions = [contains(messages.c.content, query)]
    for column, value in (
        (messages.c.device, device),
        (messages.c.agent_id, agent),
        (messages.c.chat_type, chat_type),
    ):
        if value is not None:
            conditions.append(column == value)
    if speaker is not None:
        conditions.append(messages.c.speaker == speaker)
    conditions.extend(messages_matching(starred, tag))
    if since is not None:
        conditions.append(messages.c.created_at >= since)
    if until is not None:
        conditions.append(messages.c.created_at < until)
    async with store.read() as connection:
        wanted = _sample(grams(query))
        if not wanted:
            # Nothing indexable (one Chinese character, two letters): newest first, a scan.
            if before_id is not None:
                conditions.append(messages.c.id < before_id)
            return await _rows(connection, conditions, limit)
        return await _through_index(connection, wanted, before_id, conditions, limit)


async def _through_index(
    connection: AsyncConnection,
    wanted: list[int],
    before_id: int | None,
    conditions: list[ColumnElement[bool]],
    limit: int,
) -> list[dict[str, Any]]:
    """Walk the index newest first, a chunk at a time (growing), and read the candidates'
    messages that pass ``conditions`` until ``limit`` are found or the index is done.

    Each step is a statement no planner can turn into a scan of the messages (given one
    join of postings and messages, PostgreSQL trusted its LIKE estimate and did); ids found
    in one step are written into the next as integers the store handed out.
    """
    step = await _steps(connection, wanted, before_id)
    found: list[dict[str, Any]] = []
    below, chunk = before_id, FIRST_CHUNK
    while step is not None and len(found) < limit:
        walked, candidates = await step(below, chunk)
        if not walked:
            break
        below = walked[-1]
        if candidates:
            listed = text(f"messages.id IN ({_listed(candidates)})")
            found += await _rows(connection, [listed, *conditions], limit - len(found))
        if len(walked) < chunk:
            break
        chunk = min(chunk * 4, MAX_CHUNK)
    return found


Step = Callable[[int | None, int], Awaitable[tuple[list[int], list[int]]]]


async def _steps(
    connection: AsyncConnection, wanted: list[int], before_id: int | None
) -> Step | None:
    """How to read the next chunk: (ids walked, newest first; those that have every gram).
    None: a gram of the query is in no message below ``before_id``, so nothing is."""
    if connection.dialect.name == "sqlite":
        match = tokens(wanted)  # words side by side: FTS5 wants them all

        async def fts_step(below: int | None, chunk: int) -> tuple[list[int], list[int]]:
            bound = "" if below is None else f" AND rowid < {int(below)}"
            found = await connection.execute(
                text(
                    f"SELECT rowid FROM message_grams WHERE message_grams MATCH :match{bound}"
                    f" ORDER BY rowid DESC LIMIT {int(chunk)}"
                ),
                {"match": match},
            )
            ids = list(found.scalars())
            return ids, ids

        return fts_step
    if len(wanted) > 1:
        counts = await _posting_counts(connection, wanted, before_id)
        if min(counts.values()) == 0:
            return None
        wanted = sorted(wanted, key=lambda gram: counts[gram])[:MAX_GRAMS]
    driver, *others = wanted

    async def postings_step(below: int | None, chunk: int) -> tuple[list[int], list[int]]:
        postings = await _postings(connection, driver, below, chunk)
        return postings, await _having(connection, others, postings) if postings else []

    return postings_step


async def _rows(
    connection: AsyncConnection, conditions: list[Any], limit: int
) -> list[dict[str, Any]]:
    statement = select(messages).where(*conditions).order_by(messages.c.id.desc()).limit(limit)
    return [dict(row._mapping) for row in await connection.execute(statement)]


async def _postings(
    connection: AsyncConnection, gram: int, below: int | None, chunk: int
) -> list[int]:
    """Up to ``chunk`` ids of messages with ``gram``, below ``below``, newest first."""
    statement = select(search_grams.c.message_id).where(search_grams.c.gram == gram)
    if below is not None:
        statement = statement.where(search_grams.c.message_id < below)
    statement = statement.order_by(search_grams.c.message_id.desc()).limit(chunk)
    return list((await connection.execute(statement)).scalars())


async def _having(connection: AsyncConnection, others: list[int], ids: list[int]) -> list[int]:
    """Those of ``ids`` (newest first) whose messages have every one of ``others`` too."""
    if not others:
        return ids
    listed = _listed(ids)
    # One SELECT per gram, in one round trip: MariaDB's range optimizer gives up on the
    # cross product of two long IN lists and scans the table instead.
    statement = " UNION ALL ".join(
        f"SELECT message_id FROM search_grams WHERE gram = {int(gram)} AND message_id IN ({listed})"
        for gram in others
    )
    present = Counter((await connection.execute(text(statement))).scalars())
    return [i for i in ids if present[i] == len(others)]


def _sample(wanted: list[int]) -> list[int]:
    """At most MAX_PROBES grams, spread over the query (a long query need not count all)."""
    if len(wanted) <= MAX_PROBES:
        return wanted
    return [wanted[i * len(wanted) // MAX_PROBES] for i in range(MAX_PROBES)]


async def _posting_counts(
    connection: AsyncConnection, wanted: list[int], before_id: int | None
) -> dict[int, int]:
    """How many messages (up to PROBE) each gram has, in one round trip."""
    probes = []
    for gram in wanted:
        postings = select(search_grams.c.message_id).where(search_grams.c.gram == gram)
        if before_id is not None:
            postings = postings.where(search_grams.c.message_id < before_id)
        counted = postings.limit(PROBE).subquery()
        count = select(literal(gram).label("gram"), func.count().label("n"))
        probes.append(count.select_from(counted))
    rows = await connection.execute(union_all(*probes))
    return {row.gram: row.n for row in rows}
