"""Message search through the search_grams index, the same on SQLite, MariaDB and PostgreSQL.

The write path adds a message's grams in the transaction that stores it, and every delete
removes them in the transaction that deletes it (``index_messages``, ``unindex_messages``).
A query walks the postings of its rarest gram newest first, joins each candidate to its
other grams and to the message, and keeps those whose text contains the query: the index
narrows, the substring check decides (store/search_terms.py says why it never misses).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, literal, select, text, union_all
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.patterns import contains
from xiaozhi_server.store.search_terms import grams
from xiaozhi_server.store.tables import messages, search_grams

# A query's grams beyond this many add lookups per candidate and rarely remove any: the
# substring check does the rest.
MAX_GRAMS = 6
# How far to count each gram's postings when choosing the rarest (the counts cost an index
# range each; past this a gram is "common" and which common one drives matters little).
PROBE = 2000
MAX_PROBES = 12
# Grams per DELETE statement when a message leaves the index.
_DELETE_BATCH = 2000


def index_messages(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """Add newly stored messages (rows with id and content) to the search index."""
    entries = [{"gram": g, "message_id": row["id"]} for row in rows for g in grams(row["content"])]
    if entries:
        connection.execute(insert(search_grams), entries)


def unindex_messages(connection: Connection, ids: Sequence[int]) -> None:
    """Remove these messages from the search index; call before deleting them (their
    text says which entries are theirs: the index has no message_id lookup of its own)."""
    for start in range(0, len(ids), 500):
        part = ",".join(str(int(i)) for i in ids[start : start + 500])
        found = connection.execute(text(f"SELECT id, content FROM messages WHERE id IN ({part})"))
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
) -> list[dict[str, Any]]:
    """Messages whose text may contain ``query`` (ASCII case ignored), newest first, after
    the filters. The store's LIKE decides here; ``search_terms.contains`` is the exact
    definition (stores differ beyond ASCII), which the API applies to what this returns."""
    async with store.read() as connection:
        statement = await _candidates(connection, query, before_id)
        if statement is None:
            return []
        statement = statement.where(contains(messages.c.content, query)).limit(limit)
        for column, value in (
            (messages.c.device, device),
            (messages.c.agent_id, agent),
            (messages.c.chat_type, chat_type),
        ):
            if value is not None:
                statement = statement.where(column == value)
        if since is not None:
            statement = statement.where(messages.c.created_at >= since)
        if until is not None:
            statement = statement.where(messages.c.created_at < until)
        return [dict(row._mapping) for row in await connection.execute(statement)]


async def _candidates(
    connection: AsyncConnection, query: str, before_id: int | None
) -> Select[Any] | None:
    """The messages the index allows, newest first (None: there are none)."""
    wanted = _sample(grams(query))
    if not wanted:
        # Nothing indexable (one Chinese character, two letters): newest first, a scan.
        statement = select(messages).order_by(messages.c.id.desc())
        return statement if before_id is None else statement.where(messages.c.id < before_id)
    counts = await _posting_counts(connection, wanted, before_id)
    if min(counts.values()) == 0:
        return None  # a gram of the query is in no message (below before_id): no hit
    rarest = sorted(wanted, key=lambda gram: counts[gram])[:MAX_GRAMS]
    driver = search_grams.alias("g0")
    statement = (
        select(messages)
        .select_from(driver.join(messages, messages.c.id == driver.c.message_id))
        .where(driver.c.gram == rarest[0])
        .order_by(driver.c.message_id.desc())
    )
    for number, gram in enumerate(rarest[1:], start=1):
        other = search_grams.alias(f"g{number}")
        statement = statement.join(
            other, (other.c.gram == gram) & (other.c.message_id == driver.c.message_id)
        )
    if before_id is not None:
        statement = statement.where(driver.c.message_id < before_id)
    return statement


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
