"""Two processes' writers on one SQLite file (the workers of one serve): a transaction's
reads before its first write belong to it, so a batch never decides on a stale store."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import Connection, text

from xiaozhi_server.store.engine import apply_sqlite_pragmas
from xiaozhi_server.store.sqlite_writer import SqliteWriter


async def test_a_writer_reads_what_another_writer_committed_before_it_began(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    first, second = SqliteWriter(url, apply_sqlite_pragmas), SqliteWriter(url, apply_sqlite_pragmas)
    await first.run(lambda c: c.execute(text("CREATE TABLE seen (n INTEGER)")))
    inside, release = threading.Event(), threading.Event()

    def read_then_write(connection: Connection) -> int:
        count = int(connection.execute(text("SELECT count(*) FROM seen")).scalar_one())
        inside.set()
        release.wait(10)
        connection.execute(text("INSERT INTO seen VALUES (:n)"), {"n": count})
        return count

    holding = asyncio.create_task(first.run(read_then_write))
    await asyncio.to_thread(inside.wait, 10)
    waiting = asyncio.create_task(second.run(read_then_write))
    await asyncio.sleep(0.3)  # let the second writer reach its BEGIN while the first holds
    inside.clear()
    release.set()
    counts = sorted(await asyncio.gather(holding, waiting))
    await first.close()
    await second.close()
    assert counts == [0, 1]  # the second counted the first's row: no stale decision
