"""Migration 0010: voiceprint turns stored before speakers had a column are split, and back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import Connection, insert, select, text

from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.natural_key import natural_key
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.migrations.fts5_terms import index_terms
from xiaozhi_server.store.search import search_messages
from xiaozhi_server.store.tables import messages

SAID = datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
MAC = "a0:85:e3:00:00:01"
VOICEPRINT = json.dumps({"speaker": "奶奶", "content": "把灯关了"}, ensure_ascii=False)
BROKEN = '{"speaker": "奶奶", "content": "没说完'
BEFORE = migrate.alembic_config()


def before_speakers() -> str:
    """The revision just before speakers got their column."""
    revision = ScriptDirectory.from_config(BEFORE).get_revision("0010")
    assert revision is not None
    assert isinstance(revision.down_revision, str)
    return revision.down_revision


def old_row(content: str, second: int, chat_type: int = 1) -> dict[str, Any]:
    """A message as the hub stored it before 0010: the content as the core reported it."""
    at = SAID.replace(second=second)
    return {
        "natural_key": natural_key(MAC, "s-1", chat_type, at, content),
        "source": "report",
        "device": MAC,
        "session_id": "s-1",
        "chat_type": chat_type,
        "content": content,
        "created_at": at,
        "ingested_at": at,
        "updated_at": at,
    }


def index_as_then(connection: Connection, message_id: int, content: str) -> None:
    """The search index as it was before 0010: SQLite's FTS5 terms, none on other stores."""
    if connection.dialect.name == "sqlite":
        connection.execute(
            text("INSERT INTO message_terms (rowid, terms) VALUES (:id, :terms)"),
            {"id": message_id, "terms": index_terms(content)},
        )


async def store_before_speakers(store_url: str, rows: list[dict[str, Any]]) -> Store:
    store = Store(store_url)
    await migrate.upgrade(store.engine, before_speakers())

    def write(connection: Connection) -> None:
        for row in rows:
            connection.execute(insert(messages).values(**row))
            stored_id = connection.execute(
                select(messages.c.id).where(messages.c.natural_key == row["natural_key"])
            ).scalar_one()
            index_as_then(connection, stored_id, row["content"])

    async with store.engine.begin() as connection:
        await connection.run_sync(write)
    return store


async def stored(store: Store) -> list[tuple[Any, ...]]:
    query = select(messages.c.speaker, messages.c.content).order_by(messages.c.created_at)
    async with store.read() as connection:
        return [tuple(row) for row in await connection.execute(query)]


async def test_stored_voiceprint_turns_get_their_speaker_and_plain_text(store_url: str) -> None:
    store = await store_before_speakers(store_url, [old_row(VOICEPRINT, 0), old_row("你好", 1)])
    await migrate.upgrade(store.engine)
    assert await stored(store) == [("奶奶", "把灯关了"), (None, "你好")]
    await store.close()


async def test_malformed_json_looking_turns_stay_as_they_were_said(store_url: str) -> None:
    store = await store_before_speakers(store_url, [old_row(BROKEN, 0)])
    await migrate.upgrade(store.engine)
    assert await stored(store) == [(None, BROKEN)]
    await store.close()


async def test_after_the_upgrade_search_finds_the_plain_text_only(store_url: str) -> None:
    store = await store_before_speakers(store_url, [old_row(VOICEPRINT, 0)])
    await migrate.upgrade(store.engine)
    assert [row["content"] for row in await search_messages(store, "关了", 10)] == ["把灯关了"]
    assert await search_messages(store, "speaker", 10) == []
    await store.close()


async def test_a_turn_stored_before_the_upgrade_arriving_again_is_no_new_row(
    store_url: str,
) -> None:
    store = await store_before_speakers(store_url, [old_row(VOICEPRINT, 0)])
    await migrate.upgrade(store.engine)
    again = MessageRecord(MAC, "s-1", 1, VOICEPRINT, SAID, "poll")
    result = await Ingestor(store, EventBus()).ingest(Batch(messages=[again]))
    assert result.stored == []
    await store.close()


async def test_a_downgrade_puts_the_speaker_back_into_the_content(store_url: str) -> None:
    store = await store_before_speakers(store_url, [old_row(VOICEPRINT, 0)])
    await migrate.upgrade(store.engine)
    await migrate.downgrade(store.engine, before_speakers())
    async with store.read() as connection:
        [content] = (await connection.exec_driver_sql("SELECT content FROM messages")).scalars()
    assert json.loads(content) == {"speaker": "奶奶", "content": "把灯关了"}
    await store.close()
