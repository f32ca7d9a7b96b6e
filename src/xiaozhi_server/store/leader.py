"""One syncer at a time: instances sharing a store elect a leader with a database lock.

MySQL/MariaDB ``GET_LOCK`` and PostgreSQL advisory locks belong to a connection, so the
lock is released the moment the leader's process (or its connection) dies, and a standby
takes over on its next try. SQLite has a single instance by nature: it always leads.
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from xiaozhi_server.store.database import Store

log = logging.getLogger(__name__)
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
        """True if this instance leads now (it keeps leading until ``release``). False while
        another instance leads, or while the store cannot be asked: a standby keeps trying
        through a store that is briefly away, instead of giving up for good."""
        if self._store.dialect == "sqlite" or self._connection is not None:
            return True
        try:
            connection = await self._store.engine.connect()
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not ask the store for the lead (%s): %s", self._name, _kind(exc))
            return False
        try:
            won = await self._ask(connection)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("could not ask the store for the lead (%s): %s", self._name, _kind(exc))
            won = False
        if won:
            self._connection = connection
        else:
            await _discard(connection)
        return won

    async def _ask(self, connection: AsyncConnection) -> bool:
        if self._store.dialect == "postgresql":
            statement = text("SELECT pg_try_advisory_lock(:key)").bindparams(key=self._key)
        else:
            statement = text("SELECT GET_LOCK(:name, 0)").bindparams(name=self._name)
        won = bool((await connection.execute(statement)).scalar())
        # The lock is the session's, not the transaction's: end the transaction the query
        # began, or a server that ends idle transactions (PostgreSQL's
        # idle_in_transaction_session_timeout) would end the session and free the lock.
        await connection.commit()
        return won

    async def release(self) -> None:
        """Give the lead up: the lock's connection is discarded, not pooled, which frees it."""
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await _discard(connection)


async def _discard(connection: AsyncConnection) -> None:
    """Close ``connection`` for good (not back to the pool), even if it is broken."""
    with contextlib.suppress(SQLAlchemyError, OSError):
        await connection.invalidate()
    with contextlib.suppress(SQLAlchemyError, OSError):
        await connection.close()


def _kind(exc: BaseException) -> str:
    # The error's text can name hosts and users; its kind says enough here.
    return type(exc.__cause__ or exc).__name__
