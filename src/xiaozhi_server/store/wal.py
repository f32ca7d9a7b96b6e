"""SQLite's write-ahead log, kept short while a purge rewrites many pages."""

from __future__ import annotations

from sqlalchemy import text

from xiaozhi_server.store.database import Store


async def checkpoint(store: Store) -> None:
    """Copy committed pages from the log into the database now, outside any write (SQLite;
    nothing elsewhere). Otherwise the commit that fills the log does it, with its fsync,
    while every writer waits behind it."""
    if store.dialect == "sqlite":
        async with store.read() as connection:
            await connection.execute(text("PRAGMA wal_checkpoint(PASSIVE)"))
