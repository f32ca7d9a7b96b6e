"""One syncer at a time: instances sharing a store elect a leader with a database lock.

MySQL/MariaDB ``GET_LOCK`` and PostgreSQL advisory locks belong to a connection, so the
lock is released the moment the leader's process (or its connection) dies, and a standby
takes over on its next try. SQLite has a single instance by nature: it always leads.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from xiaozhi_server.store.database import Store

LOCK_NAME = "xiaozhi-server:sync"
_ADVISORY_KEY = 7_342_001


class Leadership:
    """Try to become, and then stay, the one instance that syncs (or, with another lock
    ``name`` and ``key``, that runs another job)."""

    def __init__(self, store: Store, name: str = LOCK_NAME, key: int = _ADVISORY_KEY) -> None:
        self._store = store
        self._name, self._key = name, key
        self._connection: AsyncConnection | None = None

    async def acquire(self) -> bool:
        """True if this instance leads now (it keeps leading until ``release``)."""
        if self._store.dialect == "sqlite" or self._connection is not None:
            return True
        connection = await self._store.engine.connect()
        if self._store.dialect == "postgresql":
            statement = text("SELECT pg_try_advisory_lock(:key)").bindparams(key=self._key)
        else:
            statement = text("SELECT GET_LOCK(:name, 0)").bindparams(name=self._name)
        won = bool((await connection.execute(statement)).scalar())
        # The lock is the session's, not the transaction's: end the transaction the query
        # began, or a server that ends idle transactions (PostgreSQL's
        # idle_in_transaction_session_timeout) would end the session and free the lock.
        await connection.commit()
        if won:
            self._connection = connection
        else:
            await connection.invalidate()
            await connection.close()
        return won

    async def release(self) -> None:
        """Give the lead up: the lock's connection is discarded, not pooled, which frees it."""
        if self._connection is not None:
            await self._connection.invalidate()
            await self._connection.close()
            self._connection = None
