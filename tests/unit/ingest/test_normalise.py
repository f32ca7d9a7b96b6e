"""Normalisation: what a record must look like to be stored, and how ids are spelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.normalise import normalise_batch, normalise_device

NOW = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)


def message(**changes: object) -> MessageRecord:
    fields: dict[str, object] = {
        "device": "AA:BB:CC:DD:EE:FF",
        "session_id": " s-1 ",
        "chat_type": 1,
        "content": "你好",
        "created_at": NOW,
        "source": "test",
    }
    return MessageRecord(**(fields | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "spelling", ["AA:BB:CC:DD:EE:FF", "aa-bb-cc-dd-ee-ff", "AABBCCDDEEFF", " aa:bb:cc:dd:ee:ff "]
)
def test_every_spelling_of_a_mac_becomes_lowercase_with_colons(spelling: str) -> None:
    assert normalise_device(spelling) == "aa:bb:cc:dd:ee:ff"


def test_a_device_id_that_is_not_a_mac_is_kept_as_given() -> None:
    assert normalise_device("  web-test-client ") == "web-test-client"


def test_times_become_utc_milliseconds() -> None:
    shanghai = timezone(timedelta(hours=8))
    clean, _ = normalise_batch(Batch(messages=[message(created_at=NOW.astimezone(shanghai))]))
    assert clean.messages[0].created_at == NOW.replace(microsecond=123000)
    assert clean.messages[0].created_at.tzinfo == UTC
    assert clean.messages[0].session_id == "s-1"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"chat_type": 4}, "chat_type"),
        ({"chat_type": True}, "chat_type"),
        ({"session_id": "  "}, "session_id"),
        ({"session_id": "x" * 65}, "session_id"),
        ({"device": ""}, "device"),
        ({"content": "bad \ud800 surrogate"}, "content"),
        ({"created_at": datetime(2026, 1, 1)}, "created_at"),
        ({"created_at": datetime(1970, 1, 1, tzinfo=UTC)}, "created_at"),
        ({"agent_id": "a" * 33}, "agent_id"),
    ],
)
def test_an_unstorable_message_is_rejected_naming_the_field(
    changes: dict[str, object], field: str
) -> None:
    clean, rejected = normalise_batch(Batch(messages=[message(), message(**changes)]))
    assert len(clean.messages) == 1
    assert [(r.kind, r.index) for r in rejected] == [("message", 1)]
    assert rejected[0].reason.startswith(field)
