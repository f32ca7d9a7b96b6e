"""A pending recount of the statistics rollups: requested by a bulk copy, done by a rebuild.

A first copy of a million upstream rows spent half of its writer's time keeping the rollups'
running totals up to date batch by batch; recounting them once at the end costs a fraction of
that (docs/benchmarks.md). While the request below is stored, ``rollups.apply`` changes
nothing and ``stats`` counts from ``messages`` (slower, still exact). The request commits
with the first batch that skips the rollups, so a copy killed at any point leaves it behind,
and the next catch-up (``rollups.catch_up``) or any rebuild recounts.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, select

from xiaozhi_server.store.dialects import insert_ignoring_duplicates
from xiaozhi_server.store.driver_statements import fetch
from xiaozhi_server.store.tables import stats_recount

_PENDING = select(stats_recount.c.id).limit(1)


def request(connection: Connection, now: datetime) -> None:
    """Ask for a recount: from now on the rollups are left alone until one is done."""
    statement = insert_ignoring_duplicates(connection.dialect, stats_recount)
    connection.execute(statement, {"id": 1, "requested_at": now})


def pending(connection: Connection) -> bool:
    """True while a recount is requested and not done."""
    return bool(fetch(connection, _PENDING, {}))


def done(connection: Connection) -> None:
    """The rollups were just recounted from ``messages``."""
    connection.execute(delete(stats_recount))
