"""Backup and restore: the whole store in one gzip-compressed JSON-lines archive.

The first line names the format and its version; every other line is one row of one table
(``{"t": table, "r": row}``), times as ISO-8601 UTC, audio as base64. Export pages through
each table by key (flat memory); import upserts (messages by natural key), so importing
the same archive twice changes nothing, into SQLite, MySQL/MariaDB or PostgreSQL alike.

An archive holds what the store holds: nothing of an erasure done before it, and the
erasures' tombstones (version 2), so a restore never brings erased history back. Import
obeys the same rules as every source (privacy/admission.py): erased or expired messages are
withheld (their sessions and devices recounted), and audio is written only for messages
that keep it — in a second read of the archive, after the messages.
"""

from __future__ import annotations

import base64
import functools
import gzip
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from xiaozhi_server.ingest.normalise import separate_speaker
from xiaozhi_server.privacy.admission import admit_rows
from xiaozhi_server.privacy.policy import KEEP_EVERYTHING, DataPolicy
from xiaozhi_server.store import erasures as tombstones
from xiaozhi_server.store import purge, rollup_recount, search, writes
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.dialects import insert_ignoring_duplicates
from xiaozhi_server.store.tables import (
    agents,
    audio,
    devices,
    erasures,
    messages,
    sessions,
    sync_status,
)
from xiaozhi_server.store.types import UtcDateTime

FORMAT = "xiaozhi-server-archive"
VERSION = 3
# version 1 had no erasures; versions 1 and 2 no message speakers (their voiceprint turns
# are split on import, as ingest splits them)
READABLE_VERSIONS = (1, 2, 3)
TABLES: list[Table] = [erasures, agents, devices, sessions, audio, messages, sync_status]
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
    store: Store, path: Path, progress: Progress | None = None, policy: DataPolicy = KEEP_EVERYTHING
) -> dict[str, int]:
    """Upsert every row of the archive at ``path`` into ``store`` that ``policy`` and the
    store's tombstones allow; return rows read per table."""
    reading = _Import(store, path, progress, policy)
    await reading.tables(audio_pass=False)
    settle = functools.partial(
        purge.settle_after_import,
        session_ids=reading.withheld.sessions,
        macs=reading.withheld.devices,
        now=datetime.now(UTC),
    )
    await store.run_write(settle)
    await reading.tables(audio_pass=True)
    # Archives carry no rollups: count the statistics again from what is now stored.
    await store.run_write(rollup_recount.rebuild)
    return reading.counts


@dataclass(slots=True)
class _Import:
    """One import: where from, the rules, and what it counted and withheld so far."""

    store: Store
    path: Path
    progress: Progress | None
    policy: DataPolicy
    counts: dict[str, int] = field(default_factory=dict)
    withheld: _Withheld = field(default_factory=lambda: _Withheld())

    async def tables(self, audio_pass: bool) -> None:
        """Every page of the archive's audio (``audio_pass``) or of its other tables."""
        for table_name, rows in _read(self.path):
            if (table_name == "audio") != audio_pass:
                continue
            # By name: the unit of work may cross to the writer process, a Table may not.
            work = functools.partial(_upsert, table_name=table_name, rows=rows, policy=self.policy)
            held_sessions, held_devices = await self.store.run_write(work)
            self.withheld.sessions.update(held_sessions)
            self.withheld.devices.update(held_devices)
            self.counts[table_name] = self.counts.get(table_name, 0) + len(rows)
            if self.progress:
                self.progress(table_name, self.counts[table_name])


@dataclass(slots=True)
class _Withheld:
    """Sessions and devices of the messages an import withheld (to recount them)."""

    sessions: set[str] = field(default_factory=set)
    devices: set[str] = field(default_factory=set)


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
    if table is messages or table is erasures:
        encoded.pop("id")  # ids belong to the store they were made in
    return encoded


def _with_speaker(row: dict[str, Any]) -> dict[str, Any]:
    """A message row of an archive from before speakers had a column, split as ingest
    splits a voiceprint turn (its natural key stays: it hashes the content as reported)."""
    if "speaker" in row:
        return row
    separated = separate_speaker(row["content"]) if row.get("chat_type") == 1 else None
    speaker, content = separated or (None, row["content"])
    return row | {"speaker": speaker, "content": content}


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
    return _with_speaker(decoded) if table is messages else decoded


def _read(path: Path) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Pages of (table, rows) from the archive, checking its header and every line."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            header = json.loads(next(lines, "{}"))
            if header.get("format") != FORMAT or header.get("version") not in READABLE_VERSIONS:
                raise ArchiveError(f"{path} is not a {FORMAT} version 1, 2 or 3 file")
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


def _upsert(
    connection: Connection, table_name: str, rows: list[dict[str, Any]], policy: DataPolicy
) -> tuple[set[str], set[str]]:
    """Upsert one page of ``table_name``; return the sessions and devices of the messages
    withheld (returned, not collected in an argument: this may run in the writer process)."""
    table = _BY_NAME[table_name]
    if table is messages:
        kept, held_back = admit_rows(connection, rows, policy, datetime.now(UTC))
        inserted = writes.insert_messages(connection, kept)
        search.index_messages(connection, inserted)
        return {row["session_id"] for row in held_back}, {row["device"] for row in held_back}
    _upsert_other(connection, table, rows)
    return set(), set()


def _upsert_other(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if table is audio:
        used = _used_audio(connection, [row["audio_id"] for row in rows])
        wanted = [row for row in rows if row["audio_id"] in used]
        if wanted:
            connection.execute(insert_ignoring_duplicates(connection.dialect, audio), wanted)
        return
    if table is erasures:
        for row in rows:
            tombstones.put(connection, row["kind"], [row["key"]], row["cutoff"], row["erased_at"])
        return
    key = table.primary_key.columns.values()[0]
    existing = _existing_keys(connection, table, rows)
    fresh = [r for r in rows if r[key.name] not in existing]
    if fresh:
        connection.execute(table.insert(), fresh)
    for row in rows:
        if row[key.name] in existing:
            connection.execute(table.update().where(key == row[key.name]).values(**row))


def _used_audio(connection: Connection, audio_ids: list[str]) -> set[str]:
    """Which of these audio ids a stored message names (audio is kept only for those)."""
    query = select(messages.c.audio_id).where(messages.c.audio_id.in_(audio_ids)).distinct()
    return {row.audio_id for row in connection.execute(query)}


def _existing_keys(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> set[Any]:
    key = table.primary_key.columns.values()[0]
    found = connection.execute(select(key).where(key.in_([r[key.name] for r in rows])))
    return {r[0] for r in found}
