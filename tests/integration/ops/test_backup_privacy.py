"""Backups and erasure: an archive taken after an erasure holds none of it, and no restore
brings erased history back; import writes no audio the settings refuse."""

from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from tests.support.aggregates import assert_aggregates_exact
from tests.support.seed import AUDIO, KIDS_ROOM, LIVING_ROOM, dataset, seed
from xiaozhi_server.config import CaptureSettings, RetentionSettings
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.ops.backup import export_archive, import_archive
from xiaozhi_server.privacy import erasure
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio, devices, messages, sessions

ERASED_WORDS = ["小智，今天深圳天气怎么样？", "播放音乐", "客厅小智", "深圳天气"]


async def seeded_store(store_url: str) -> Store:
    await seed(store_url)
    return Store(store_url)


async def erase_living_room(store: Store) -> None:
    target = await erasure.find_target(store, "device", LIVING_ROOM)
    assert target is not None
    await erasure.erase(store, target)


def archive_lines(path: Path) -> list[dict[str, Any]]:
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines][1:]


async def rows(store: Store, table: Any) -> list[dict[str, Any]]:
    async with store.read() as connection:
        return [dict(row._mapping) for row in await connection.execute(select(table))]


async def test_an_archive_taken_after_an_erasure_holds_only_its_tombstone(
    store_url: str, tmp_path: Path
) -> None:
    store = await seeded_store(store_url)
    await erase_living_room(store)
    archive = tmp_path / "after.jsonl.gz"
    await export_archive(store, archive)
    await store.close()
    with gzip.open(archive, "rt", encoding="utf-8") as lines:
        text = lines.read()
    for word in [*ERASED_WORDS, base64.b64encode(AUDIO[:60]).decode()]:
        assert word not in text
    naming = [line["t"] for line in archive_lines(archive) if LIVING_ROOM in json.dumps(line)]
    assert naming == ["erasures"]


async def test_restoring_an_archive_from_before_the_erasure_does_not_bring_it_back(
    store_url: str, tmp_path: Path
) -> None:
    store = await seeded_store(store_url)
    before = tmp_path / "before.jsonl.gz"
    await export_archive(store, before)
    await erase_living_room(store)
    await import_archive(store, before)
    assert {m["device"] for m in await rows(store, messages)} == {KIDS_ROOM}
    assert {s["session_id"] for s in await rows(store, sessions)} == {"s-english"}
    assert [d["mac"] for d in await rows(store, devices)] == [KIDS_ROOM]
    assert await rows(store, audio) == []
    await assert_aggregates_exact(store)
    await store.close()


async def test_a_fresh_store_restored_after_an_erasure_keeps_refusing_it(
    store_url: str, tmp_path: Path
) -> None:
    source = await seeded_store(f"sqlite+aiosqlite:///{tmp_path / 'source.db'}")
    await erase_living_room(source)
    archive = tmp_path / "after.jsonl.gz"
    await export_archive(source, archive)
    await source.close()
    target = Store(store_url)
    await migrate.upgrade(target.engine)
    await import_archive(target, archive)
    result = await Ingestor(target, EventBus()).ingest(dataset())
    assert result.withheld == 6
    assert {m["device"] for m in await rows(target, messages)} == {KIDS_ROOM}
    await target.close()


async def test_import_writes_no_audio_when_audio_is_off(store_url: str, tmp_path: Path) -> None:
    source = await seeded_store(f"sqlite+aiosqlite:///{tmp_path / 'source.db'}")
    archive = tmp_path / "with-audio.jsonl.gz"
    await export_archive(source, archive)
    await source.close()
    target = Store(store_url)
    await migrate.upgrade(target.engine)
    no_audio = DataPolicy.from_settings(RetentionSettings(), CaptureSettings(store_audio=False))
    counts = await import_archive(target, archive, policy=no_audio)
    assert counts["messages"] == 8
    assert await rows(target, audio) == []
    assert {m["audio_id"] for m in await rows(target, messages)} == {None}
    await target.close()
