"""Archives from before speakers had a column: their voiceprint turns are split on import."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from xiaozhi_server.ops.backup import export_archive, import_archive
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages

VOICEPRINT = json.dumps({"speaker": "小明", "content": "讲个故事"}, ensure_ascii=False)


def old_message(content: str, key: str) -> dict[str, Any]:
    """A message line of a version 2 archive (no speaker field)."""
    return {
        "natural_key": key,
        "source": "report",
        "source_id": None,
        "device": "a0:85:e3:00:00:01",
        "agent_id": None,
        "session_id": "s-1",
        "chat_type": 1,
        "content": content,
        "audio_id": None,
        "created_at": "2026-11-24T08:30:00+00:00",
        "ingested_at": "2026-11-24T08:30:00+00:00",
        "updated_at": "2026-11-24T08:30:00+00:00",
        "deleted_upstream_at": None,
    }


def version_2_archive(path: Path, rows: list[dict[str, Any]]) -> Path:
    header = {"format": "xiaozhi-server-archive", "version": 2, "tables": ["messages"]}
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write(json.dumps(header) + "\n")
        out.writelines(json.dumps({"t": "messages", "r": row}) + "\n" for row in rows)
    return path


async def stored(store: Store) -> list[tuple[Any, ...]]:
    query = select(messages.c.speaker, messages.c.content).order_by(messages.c.natural_key)
    async with store.read() as connection:
        return [tuple(row) for row in await connection.execute(query)]


async def test_an_older_archives_voiceprint_turns_get_their_speaker(
    store: Store, tmp_path: Path
) -> None:
    rows = [old_message(VOICEPRINT, "a" * 64), old_message("你好", "b" * 64)]
    await import_archive(store, version_2_archive(tmp_path / "old.jsonl.gz", rows))
    assert await stored(store) == [("小明", "讲个故事"), (None, "你好")]


async def test_an_archive_carries_speakers_from_store_to_store(
    store: Store, tmp_path: Path
) -> None:
    rows = [old_message(VOICEPRINT, "a" * 64)]
    await import_archive(store, version_2_archive(tmp_path / "old.jsonl.gz", rows))
    archive = tmp_path / "new.jsonl.gz"
    await export_archive(store, archive)
    other = Store(f"sqlite+aiosqlite:///{tmp_path / 'other.db'}")
    await migrate.upgrade(other.engine)
    await import_archive(other, archive)
    assert await stored(other) == [("小明", "讲个故事")]
    await other.close()
