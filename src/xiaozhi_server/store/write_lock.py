"""One writer at a time on a shared MariaDB / PostgreSQL store; a retry when the database asks.

Several instances (and the syncer beside reports) write to one store. Their transactions update
the same aggregate rows (a session's counts, a device's totals) in different orders and read
counts before adding to them: under InnoDB that ends in deadlocks (1213), under PostgreSQL's
READ COMMITTED in counts added twice. Every write transaction therefore locks one row first
(``SELECT … FOR UPDATE``), so writers queue for a few milliseconds instead — the same order
SQLite's single writer gives for free. The row is taken before any other read: MariaDB takes a
transaction's snapshot at its first plain read, and reads after the lock must see the previous
writer's commit.

A transaction that still fails with a deadlock, a lock-wait timeout or a serialization failure
rolled back whole, so running it again is safe; ``is_retryable`` says which errors those are.
"""

from __future__ import annotations

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError

from xiaozhi_server.store.tables import write_lock

# MariaDB: 1213 deadlock, 1205 lock wait timeout. PostgreSQL: 40P01 deadlock, 40001 serialization.
_MYSQL_CODES = frozenset({1205, 1213})
_POSTGRES_STATES = frozenset({"40P01", "40001"})
_LOCK = select(write_lock.c.id).where(write_lock.c.id == 1).with_for_update()


def take(connection: Connection) -> None:
    """Wait for the store's write turn; held until this transaction ends (not needed on SQLite)."""
    if connection.dialect.name == "sqlite":
        return
    if connection.execute(_LOCK).first() is None:
        raise RuntimeError("the store has no write_lock row: run `xiaozhi-server db upgrade`")


def is_retryable(error: BaseException) -> bool:
    """Whether ``error`` rolled its transaction back for a conflict that a second try can pass."""
    if not isinstance(error, DBAPIError):
        return False
    original = error.orig
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if state in _POSTGRES_STATES:
        return True
    args: tuple[object, ...] = tuple(getattr(original, "args", ()))
    return bool(args) and args[0] in _MYSQL_CODES
