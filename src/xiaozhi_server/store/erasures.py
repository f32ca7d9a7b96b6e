"""Tombstones: the sessions, devices and agents erased on request, with their cutoffs.

A write and an erasure must not pass each other unseen: the write path reads the tombstones
that concern its batch with a shared lock (MySQL/MariaDB: a locking read, which also locks
the gaps where a new tombstone would go; PostgreSQL: a shared advisory lock), and an
erasure writes its tombstone under the exclusive form first, so a batch either committed
before the tombstone (and the erasure then deletes it) or sees it. SQLite has one writer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, bindparam, case, or_, select, text, update

from xiaozhi_server.store.dialects import insert_ignoring_duplicates
from xiaozhi_server.store.driver_statements import fetch
from xiaozhi_server.store.tables import erasures
from xiaozhi_server.store.types import UtcDateTime
from xiaozhi_server.store.writes import CHUNK, chunked

KINDS = ("session", "device", "agent")
_ADVISORY_KEY = 7_342_016
Tombstones = dict[tuple[str, str], datetime]


def lock_shared(connection: Connection) -> None:
    """Hold off erasures until this transaction ends (PostgreSQL; see the module doc)."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": _ADVISORY_KEY}
        )


def lock_exclusive(connection: Connection) -> None:
    """Wait for writes in flight and hold new ones until this transaction ends (PostgreSQL)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_KEY})


def find(connection: Connection, sessions: Iterable[str], devices: Iterable[str]) -> Tombstones:
    """Cutoffs of these sessions' and devices' tombstones, and of every agent's (one query
    for a batch of up to 500 sessions and devices, as every report is)."""
    lock_shared(connection)
    if not fetch(connection, _ANY[connection.dialect.name == "mysql"], {}):
        return {}  # the usual case; building the query below costs more than running it
    session_keys, device_keys = sorted(set(sessions)), sorted(set(devices))
    found: Tombstones = {}
    for start in range(0, max(len(session_keys), len(device_keys), 1), CHUNK):
        wanted = [erasures.c.kind == "agent"] if start == 0 else []
        for kind, keys in (("session", session_keys), ("device", device_keys)):
            part = keys[start : start + CHUNK]
            if part:
                wanted.append(and_(erasures.c.kind == kind, erasures.c.key.in_(part)))
        if not wanted:
            continue
        query = _locking(select(*_COLUMNS).where(or_(*wanted)), connection)
        found.update(((row.kind, row.key), row.cutoff) for row in connection.execute(query))
    return found


# (MySQL/MariaDB: locking, so an empty table's gap is held like the full query's)
_ANY = (
    select(erasures.c.kind).limit(1),
    select(erasures.c.kind).limit(1).with_for_update(read=True),
)
_COLUMNS = (erasures.c.kind, erasures.c.key, erasures.c.cutoff)


def _locking(query: Any, connection: Connection) -> Any:
    # MySQL/MariaDB: LOCK IN SHARE MODE, which also locks the gap a new tombstone would fill.
    return query.with_for_update(read=True) if connection.dialect.name == "mysql" else query


def put(
    connection: Connection, kind: str, keys: list[str], cutoff: datetime, now: datetime
) -> None:
    """Record tombstones; one already there keeps the later of its cutoff and ``cutoff``.

    Writes before it reads (no read first), so on MySQL/MariaDB it waits for batches that
    hold the tombstones' locks and later reads in this transaction see what they wrote.
    """
    later = case(
        (erasures.c.cutoff < cutoff, bindparam("new_cutoff", cutoff, UtcDateTime)),
        else_=erasures.c.cutoff,
    )
    for part in chunked(sorted(set(keys))):
        connection.execute(
            insert_ignoring_duplicates(connection.dialect, erasures),
            [{"kind": kind, "key": key, "cutoff": cutoff, "erased_at": now} for key in part],
        )
        connection.execute(
            update(erasures)
            .where(erasures.c.kind == kind, erasures.c.key.in_(part))
            .values(cutoff=later, erased_at=now)
        )


def all_tombstones(connection: Connection) -> list[dict[str, Any]]:
    """Every tombstone (for import, which re-applies them)."""
    return [dict(row._mapping) for row in connection.execute(select(erasures))]


_KEYED = select(erasures.c.key).where(
    erasures.c.kind == bindparam("kind"), erasures.c.key.in_(bindparam("keys", expanding=True))
)


def erased_keys(connection: Connection, kind: str, keys: list[str]) -> set[str]:
    """Which of ``keys`` have a tombstone of ``kind``."""
    found: set[str] = set()
    for part in chunked(sorted(set(keys))):
        found.update(row.key for row in connection.execute(_KEYED, {"kind": kind, "keys": part}))
    return found
