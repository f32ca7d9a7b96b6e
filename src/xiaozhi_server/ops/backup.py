"""Backup and restore: the whole store in one gzip-compressed JSON-lines archive.

The first line names the format and its version; every other line is one row of one table
(``{"t": table, "r": row}``), times as ISO-8601 UTC, audio as base64. Export pages through
each table by key (flat memory); import upserts (messages by natural key), so importing
the same archive twice changes nothing, into SQLite, MySQL/MariaDB or PostgreSQL alike.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from xiaozhi_server.store import rollups, search, writes
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.dialects import insert_ignoring_duplicates
from xiaozhi_server.store.tables import agents, audio, devices, messages, sessions, sync_status
from xiaozhi_server.store.types import UtcDateTime

FORMAT = "xiaozhi-server-archive"
VERSION = 1
TABLES: list[Table] = [agents, devices, sessions, audio, messages, sync_status]
_BY_NAME = {table.name: table for table in TABLES}
PAGE = 1000
Progress = Callable[[str, int], None]


class ArchiveError(ValueError):
    """An archive that cannot be imported; the message says why."""


async def export_archive(
    store: Store, path: Path, progress: Progress | None = None
) -> dict[str, int]:
    """Write every row of every table to ``path``; return rows per table."""
    counts: dict[str, int] = {}
    with gzip.open(path, "wt", encoding="utf-8") as out:
        header = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "tables": [t.name for t in TABLES],
        }
        out.write(json.dumps(header) + "\n")
        for table in TABLES:
            counts[table.name] = 0
            async for rows in _pages(store, table):
                out.writelines(
                    json.dumps({"t": table.name, "r": _encode(table, r)}, ensure_ascii=False) + "\n"
                    for r in rows
                )
                counts[table.name] += len(rows)
                if progress:
                    progress(table.name, counts[table.name])
    return counts


async def import_archive(
    store: Store, path: Path, progress: Progress | None = None
) -> dict[str, int]:
    """Upsert every row of the archive at ``path`` into ``store``; return rows per table."""
    counts: dict[str, int] = {}
    for table_name, rows in _read(path):
        table = _BY_NAME[table_name]
        await store.run_write(functools.partial(_upsert, table=table, rows=rows))
        counts[table_name] = counts.get(table_name, 0) + len(rows)
        if progress:
            progress(table_name, counts[table_name])
    # Archives carry no rollups: count the statistics again from what is now stored.
    await store.run_write(rollups.rebuild)
    return counts


async def _pages(store: Store, table: Table) -> Any:
    key = table.primary_key.columns.values()[0]
    last: Any = None
    while True:
        query = select(table).order_by(key).limit(PAGE)
        if last is not None:
            query = query.where(key > last)
        async with store.read() as connection:
            rows = [dict(r._mapping) for r in await connection.execute(query)]
        if not rows:
            return
        yield rows
        last = rows[-1][key.name]


def _encode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    encoded = dict(row)
    for name, value in row.items():
        if isinstance(value, datetime):
            encoded[name] = value.isoformat()
        elif isinstance(value, bytes):
            encoded[name] = base64.b64encode(value).decode("ascii")
    if table is messages:
        encoded.pop("id")  # ids belong to the store they were made in
    return encoded


def _decode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(row)
    for column in table.columns:
        value = row.get(column.name)
        if value is None:
            continue
        if isinstance(column.type, UtcDateTime):
            decoded[column.name] = datetime.fromisoformat(value)
        elif column.name == "data" and table is audio:
            decoded[column.name] = base64.b64decode(value)
    return decoded


def _read(path: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Pages of (table, rows) from the archive, checking its header and every line."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(next(lines, "{}"))
            if header.get("format") != FORMAT or header.get("version") != VERSION:
                raise ArchiveError(f"{path} is not a {FORMAT} version {VERSION} file")
            current = ""
            rows: list[dict[str, Any]] = []
            for number, line in enumerate(lines, start=2):
                item = json.loads(line)
                if not isinstance(item, dict) or item.get("t") not in _BY_NAME:
                    raise ArchiveError(f"{path}, line {number}: not a row of a known table")
                if item["t"] != current or len(rows) >= PAGE:
                    if rows:
                        yield current, rows
                    current, rows = item["t"], []
                rows.append(_decode(_BY_NAME[current], item["r"]))
            if rows:
                yield current, rows
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{path} cannot be read: {exc}") from None


def _upsert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if table is messages:
        inserted = writes.insert_messages(connection, rows)
        search.index_messages(connection, inserted)
        return
    if table is audio:
        connection.execute(insert_ignoring_duplicates(connection.dialect, audio), rows)
        return
    key = table.primary_key.columns.values()[0]
    existing = _existing_keys(connection, table, rows)
    fresh = [r for r in rows if r[key.name] not in existing]
    if fresh:
        connection.execute(table.insert(), fresh)
    for row in rows:
        if row[key.name] in existing:
            connection.execute(table.update().where(key == row[key.name]).values(**row))


def _existing_keys(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> set[Any]:
    key = table.primary_key.columns.values()[0]
    found = connection.execute(select(key).where(key.in_([r[key.name] for r in rows])))
    return {r[0] for r in found}
