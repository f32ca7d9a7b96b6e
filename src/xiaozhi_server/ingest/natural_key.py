"""The natural key: one chat turn is one row however many ways it arrives."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

_SEPARATOR = "\x1f"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the epoch, UTC, for an aware datetime (integer arithmetic, exact)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def natural_key(
    device: str, session_id: str, chat_type: int, created_at: datetime, content: str
) -> str:
    """Hex SHA-256 of (mac, session_id, chat_type, created_at UTC ms, content).

    Every input must already be normalised (see ``ingest.normalise``): the same turn
    read by push, tap, retry or poll then hashes to the same key.
    """
    return natural_key_millis(device, session_id, chat_type, epoch_millis(created_at), content)


def natural_key_millis(
    device: str, session_id: str, chat_type: int, millis: int, content: str
) -> str:
    """``natural_key`` with the time as UTC milliseconds since the epoch."""
    parts = (device, session_id, str(chat_type), str(millis), content)
    return hashlib.sha256(_SEPARATOR.join(parts).encode("utf-8")).hexdigest()
