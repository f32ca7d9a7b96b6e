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
# PostgreSQL's text cannot hold NUL, where SQLite and MySQL can. Ingest strips control
# characters, so no stored value holds one, and a NUL can only arrive in a lookup (a path,
# a filter, a user name) that must then find nothing, as on the other stores, rather than
# fail. Sent as U+0001 instead, which no stored value holds either.
NUL_STAND_IN = "\x01"


def create_engine(url: str, sqlite_cache_kib: int | None = None, **kwargs: Any) -> AsyncEngine:
    """An async engine for ``url``: SQLite in WAL mode, MySQL/MariaDB speaking utf8mb4,
    PostgreSQL sent no NUL. ``sqlite_cache_kib`` bounds each SQLite connection's page cache
    below the default."""
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
    engine = create_async_engine(parsed, **kwargs)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine.sync_engine, "before_cursor_execute", replace_nul, retval=True)
    return engine


def is_sqlite(engine: AsyncEngine) -> bool:
    """True when the store is an SQLite file (one writer at a time)."""
    return engine.dialect.name == "sqlite"


def apply_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """Connect hook: WAL, durability and locking settings for every new SQLite connection."""
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def replace_nul(
    _connection: Any,
    _cursor: Any,
    statement: str,
    parameters: Any,
    _context: Any,
    _executemany: bool,
) -> tuple[str, Any]:
    """Execute hook (PostgreSQL): every NUL in a bound text value becomes NUL_STAND_IN."""
    if _holds_nul(parameters):
        parameters = _without_nul(parameters)
    return statement, parameters


def _holds_nul(parameters: Any) -> bool:
    # Positional values, or rows of them (executemany): two levels, no recursion, as this
    # runs for every statement.
    if not parameters:
        return False
    items = parameters.values() if isinstance(parameters, dict) else parameters
    for item in items:
        if type(item) is str:
            if "\x00" in item:
                return True
        elif isinstance(item, (tuple, list, dict)):
            for value in item.values() if isinstance(item, dict) else item:
                if type(value) is str and "\x00" in value:
                    return True
    return False


def _without_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", NUL_STAND_IN)
    if isinstance(value, (list, tuple)):
        return type(value)(_without_nul(item) for item in value)
    if isinstance(value, dict):
        return {key: _without_nul(item) for key, item in value.items()}
    return value


def _ensure_sqlite_dir(database: str | None) -> None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
