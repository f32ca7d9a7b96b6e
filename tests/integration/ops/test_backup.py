"""Backup and restore: SQLite → MariaDB or PostgreSQL → SQLite, every row the same,
idempotent."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.support.seed import seed
from xiaozhi_server.ops.backup import ArchiveError, export_archive, import_archive
from xiaozhi_server.store import migrate, stats
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import agents, audio, devices, messages, sessions, sync_status


async def snapshot(store: Store) -> dict[str, list[Any]]:
    """Every row of every archived table; messages keyed by natural key (ids are local)."""
    result: dict[str, list[Any]] = {}
    async with store.read() as connection:
        for table in (agents, devices, sessions, audio, sync_status):
            result[table.name] = sorted(tuple(r) for r in await connection.execute(select(table)))
        columns = [c for c in messages.columns if c.name != "id"]
        result["messages"] = sorted(tuple(r) for r in await connection.execute(select(*columns)))
    return result


@pytest.mark.parametrize("store_url", ["mariadb", "postgresql"], indirect=True)
async def test_an_archive_restores_every_row_into_the_other_store_and_back(
    tmp_path: Path, store: Store
) -> None:
    source_url = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    await seed(source_url)
    source = Store(source_url)
    archive = tmp_path / "backup.jsonl.gz"
    counts = await export_archive(source, archive)
    assert counts["messages"] == 8
    assert counts["audio"] == 1

    target = store  # MariaDB or PostgreSQL
    await import_archive(target, archive)
    assert await snapshot(target) == await snapshot(source)
    await import_archive(target, archive)  # again: nothing changes
    assert await snapshot(target) == await snapshot(source)

    back_archive = tmp_path / "back.jsonl.gz"
    await export_archive(target, back_archive)
    back = Store(f"sqlite+aiosqlite:///{tmp_path / 'back.db'}")
    await migrate.upgrade(back.engine)
    await import_archive(back, back_archive)
    assert await snapshot(back) == await snapshot(source)
    for opened in (source, back):
        await opened.close()


async def test_a_file_that_is_not_an_archive_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.jsonl.gz"
    with gzip.open(bogus, "wt") as out:
        out.write('{"format": "something else"}\n')
    store = Store(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    await migrate.upgrade(store.engine)
    with pytest.raises(ArchiveError, match="not a xiaozhi-server-archive"):
        await import_archive(store, bogus)
    await store.close()


def test_the_commands_export_and_import_with_a_summary(tmp_path: Path) -> None:
    import asyncio

    url = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    asyncio.run(seed(url))
    env = {k: v for k, v in os.environ.items() if not k.startswith("XIAOZHI_")}

    def cli(*args: str, store: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "xiaozhi_server", *args],
            cwd=tmp_path,
            env=env | {"XIAOZHI_STORAGE__URL": store},
            capture_output=True,
            text=True,
            timeout=120,
        )

    exported = cli("export", "--out", str(tmp_path / "a.jsonl.gz"), store=url)
    assert exported.returncode == 0, exported.stderr
    assert "exported 16 rows" in exported.stdout
    imported = cli(
        "import", str(tmp_path / "a.jsonl.gz"), store=f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    )
    assert imported.returncode == 0, imported.stderr
    assert "messages 8" in imported.stdout
    missing = cli("import", str(tmp_path / "nope.gz"), store=url)
    assert missing.returncode == 1
    assert "Traceback" not in missing.stderr


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_imported_messages_are_in_the_statistics(tmp_path: Path, store: Store) -> None:
    source_url = f"sqlite+aiosqlite:///{tmp_path / 'source.db'}"
    await seed(source_url)
    source = Store(source_url)
    archive = tmp_path / "backup.jsonl.gz"
    await export_archive(source, archive)
    await import_archive(store, archive)
    since, until = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    assert await stats.totals_by(store, "device", since, until) == await stats.totals_by(
        source, "device", since, until
    )
    assert sum(b["messages"] for b in await stats.totals_by(store, "agent", since, until)) == 8
    await source.close()
