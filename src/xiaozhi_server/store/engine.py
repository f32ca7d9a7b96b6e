"""Opening the store: one async engine per URL, with each database's settings applied."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # NORMAL in WAL mode survives a killed process; only a power cut can lose the last commit.
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=10000",
    "PRAGMA foreign_keys=ON",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-65536",
    # Checkpoint the WAL into the database at 64 MiB instead of 4 MiB: a page that several
    # commits change (an index's) is copied once, and bulk commits are not each followed by
    # a checkpoint. A quarter less CPU for a first copy here (docs/benchmarks.md).
    "PRAGMA wal_autocheckpoint=16384",
)


def create_engine(url: str, sqlite_cache_kib: int | None = None, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``: SQLite in WAL mode, MySQL/MariaDB speaking utf8mb4.
    ``sqlite_cache_kib`` bounds each SQLite connection's page cache below the default."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_sqlite_dir(parsed.database)
        engine = create_async_engine(parsed, **kwargs)
        event.listen(engine.sync_engine, "connect", apply_sqlite_pragmas)
        if sqlite_cache_kib is not None:
            pragma = f"PRAGMA cache_size=-{int(sqlite_cache_kib)}"
            event.listen(engine.sync_engine, "connect", lambda dbapi, _: dbapi.execute(pragma))
        return engine
    if parsed.get_backend_name() in ("mysql", "mariadb"):
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
        kwargs.setdefault("pool_recycle", 3600)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(parsed, **kwargs)


def is_sqlite(engine: AsyncEngine) -> bool:
    """True when the store is an SQLite file (one writer at a time)."""
    return engine.dialect.name == "sqlite"


def apply_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Connect hook: WAL, durability and locking settings for every new SQLite connection."""
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _ensure_sqlite_dir(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
