"""Binlog row changes become batches in binlog order, with bad rows skipped and named."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Any

from xiaozhi_server.domain import Deletion
from xiaozhi_server.sources.binlog_reader import RowChange
from xiaozhi_server.sources.binlog_rows import convert

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def message(row_id: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": row_id,
        "mac_address": "AA:BB:CC:DD:EE:FF",
        "agent_id": "agent0",
        "session_id": "s1",
        "chat_type": 1,
        "content": f"turn {row_id}",
        "audio_id": None,
        "created_at": datetime(2026, 11, 24, 20, 0, 0, 250000),
        "updated_at": datetime(2026, 11, 24, 20, 0, 1),
    } | changes


def change(kind: str, row: dict[str, Any], table: str = "ai_agent_chat_history") -> Any:
    return (RowChange(table, kind, row), row)  # type: ignore[arg-type]


def test_inserts_become_messages_in_utc_marked_as_binlog() -> None:
    converted = convert([change("insert", message(7))], SHANGHAI)
    [record] = converted.batches[0].messages
    assert record.created_at == datetime(2026, 11, 24, 12, 0, 0, 250000, tzinfo=UTC)
    assert record.source == "binlog"
    assert record.source_id == 7
    assert converted.high_id == 7


def test_a_write_after_a_delete_starts_a_new_batch_so_order_is_kept() -> None:
    device = {"id": "dev1", "mac_address": "AA", "alias": None, "board": None,
              "app_version": None, "agent_id": "a", "last_connected_at": None}  # fmt: skip
    converted = convert(
        [
            change("delete", device, "ai_device"),
            change("insert", device, "ai_device"),
        ],
        SHANGHAI,
    )
    assert [b.deletions for b in converted.batches] == [[Deletion("device", "dev1")], []]
    assert [len(b.devices) for b in converted.batches] == [0, 1]


def test_updates_do_not_move_the_highest_new_id() -> None:
    converted = convert([change("update", message(9, audio_id=None))], SHANGHAI)
    assert converted.high_id == 0
    assert converted.batches[0].messages[0].audio_id is None


def test_a_row_missing_a_column_is_skipped_with_the_column_named() -> None:
    row = message(3)
    del row["created_at"]
    converted = convert([change("insert", row)], SHANGHAI)
    assert converted.batches[0].messages == []
    assert converted.skipped == [(3, "ai_agent_chat_history: column 'created_at' missing")]


def test_deleted_titles_are_ignored_and_titles_without_a_session_too() -> None:
    title = {"id": "t1", "session_id": None, "title": "x"}
    converted = convert(
        [
            change("insert", title, "ai_agent_chat_title"),
            change("delete", title, "ai_agent_chat_title"),
        ],
        SHANGHAI,
    )
    assert converted.batches[0].titles == []
    assert converted.batches[0].deletions == []
