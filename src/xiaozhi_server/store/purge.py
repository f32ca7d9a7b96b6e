"""Deleting history for retention and erasure, keeping every aggregate exact.

Each function runs inside the caller's (short) transaction on the ids it is given: the
messages go with their search entries, their statistics (store/rollups.py) and with audio
no other message uses; their sessions
are recounted from what is left and dropped when empty; their devices lose exactly what was
deleted, and their first and last activity are read again from the sessions that remain
(two index lookups, not a recount of every session of the device).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, select, text, update

from xiaozhi_server.store import marks, rollups, shares
from xiaozhi_server.store.search import unindex_messages
from xiaozhi_server.store.tables import audio, devices, erasures, messages, sessions
from xiaozhi_server.store.writes import chunked, refresh_devices


@dataclass(slots=True)
class Removed:
    """What one unit of deletion removed."""

    messages: int = 0
    audio: int = 0
    audio_bytes: int = 0
    sessions: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)

    def add(self, other: Removed) -> None:
        """Add ``other``'s counts to these."""
        self.messages += other.messages
        self.audio += other.audio
        self.audio_bytes += other.audio_bytes
        self.sessions.extend(other.sessions)
        self.devices.extend(other.devices)


def delete_messages(connection: Connection, rows: Sequence[Any], now: datetime) -> Removed:
    """Delete these messages (rows with id, session_id, device and audio_id, as
    ``scopes.select_batch`` reads them), their search entries and audio no one else uses;
    fix the counts and times of their sessions and devices, dropping sessions left empty."""
    removed = Removed(messages=len(rows))
    if not rows:
        return removed
    ids = [row.id for row in rows]
    counted = rollups.snapshot(connection, ids)
    unindex_messages(connection, ids)  # first: it reads their text
    for part in chunked(ids):
        connection.execute(text(f"DELETE FROM messages WHERE id IN ({_literal_ids(part)})"))
    rollups.apply(connection, counted, [])
    marks.forget_messages(connection, ids)
    _drop_unused_audio(connection, {row.audio_id for row in rows if row.audio_id}, removed)
    emptied = _recount_sessions(connection, {row.session_id for row in rows}, now)
    per_device = Counter(row.device for row in rows)
    removed.sessions = drop_sessions(connection, emptied, now, per_device)
    return removed


def clear_audio(connection: Connection, rows: Sequence[Any], now: datetime) -> Removed:
    """Take the audio off these messages (their text stays) and delete audio no one uses."""
    rows = [row for row in rows if row.audio_id]
    removed = Removed()
    ids = [row.id for row in rows]
    counted = rollups.snapshot(connection, ids)
    for part in chunked(ids):
        connection.execute(
            update(messages)
            .where(text(f"messages.id IN ({_literal_ids(part)})"))
            .values(audio_id=None, updated_at=now)
        )
    rollups.apply(connection, counted, [row | {"audio_bytes": 0} for row in counted])
    _drop_unused_audio(connection, {row.audio_id for row in rows}, removed)
    return removed


def _literal_ids(ids: Sequence[int]) -> str:
    # Ids the store itself handed out (integers): written into the statement, because
    # binding a thousand parameters cost more Python time than SQLite spent deleting.
    return ",".join(str(int(value)) for value in ids)


def drop_sessions(
    connection: Connection,
    session_ids: Iterable[str],
    now: datetime,
    deleted_messages: Counter[str] | None = None,
) -> list[str]:
    """Delete these session rows (their messages are already gone) and take them, and
    ``deleted_messages`` per device, off their devices' counters; return the ids dropped."""
    dropped: list[Any] = []
    for part in chunked(sorted(set(session_ids))):
        dropped.extend(
            connection.execute(
                select(sessions.c.session_id, sessions.c.device).where(
                    sessions.c.session_id.in_(part)
                )
            ).all()
        )
        connection.execute(delete(sessions).where(sessions.c.session_id.in_(part)))
    forget_sessions(connection, [row.session_id for row in dropped])
    lost_sessions = Counter(row.device for row in dropped if row.device is not None)
    _update_devices(connection, deleted_messages or Counter(), lost_sessions, now)
    return [row.session_id for row in dropped]


def forget_sessions(connection: Connection, session_ids: Iterable[str]) -> None:
    """Delete what the hub's users added to these (deleted) sessions: marks and shares."""
    ids = list(session_ids)
    marks.forget_sessions(connection, ids)
    shares.forget_sessions(connection, ids)


def delete_device(connection: Connection, mac: str) -> int:
    """Delete the device's row (its history is already gone); 1 if there was one."""
    return int(connection.execute(delete(devices).where(devices.c.mac == mac)).rowcount or 0)


def _drop_unused_audio(connection: Connection, audio_ids: set[str], removed: Removed) -> None:
    if not audio_ids:
        return
    for part in chunked(sorted(audio_ids)):
        used = {
            row.audio_id
            for row in connection.execute(
                select(messages.c.audio_id).where(messages.c.audio_id.in_(part)).distinct()
            )
        }
        unused = [audio_id for audio_id in part if audio_id not in used]
        if not unused:
            continue
        # Sizes from the (audio_id, size_bytes) index: the blobs are never read.
        sizes = connection.execute(
            select(func.count(), func.coalesce(func.sum(audio.c.size_bytes), 0)).where(
                audio.c.audio_id.in_(unused)
            )
        ).one()
        connection.execute(delete(audio).where(audio.c.audio_id.in_(unused)))
        removed.audio += int(sizes[0])
        removed.audio_bytes += int(sizes[1])


def _recount_sessions(connection: Connection, session_ids: set[str], now: datetime) -> list[str]:
    """Recount sessions from the messages left; return those left with none."""
    emptied: list[str] = []
    for part in chunked(sorted(session_ids)):
        connection.execute(_RECOUNT, {"keys": list(part), "now": now})
        emptied.extend(row.session_id for row in connection.execute(_EMPTY, {"keys": list(part)}))
    return emptied


def _of_session(column: Any) -> Any:
    return select(column).where(messages.c.session_id == sessions.c.session_id).scalar_subquery()


_SESSION_KEYS = sessions.c.session_id.in_(bindparam("keys", expanding=True))
_RECOUNT = (
    update(sessions)
    .where(_SESSION_KEYS)
    .values(
        message_count=_of_session(func.count()),
        first_message_at=_of_session(func.min(messages.c.created_at)),
        last_message_at=_of_session(func.max(messages.c.created_at)),
        updated_at=bindparam("now"),
    )
)
_EMPTY = select(sessions.c.session_id).where(_SESSION_KEYS, sessions.c.message_count == 0)


def _first_seen() -> Any:
    return (
        select(func.min(sessions.c.first_message_at))
        .where(sessions.c.device == bindparam("device_mac"))
        .scalar_subquery()
    )


def _last_seen() -> Any:
    return (
        select(func.max(sessions.c.last_message_at))
        .where(sessions.c.device == bindparam("device_mac"))
        .scalar_subquery()
    )


_TAKE_FROM_DEVICE = (
    update(devices)
    .where(devices.c.mac == bindparam("device_mac"))
    .values(
        message_count=devices.c.message_count - bindparam("lost_messages"),
        session_count=devices.c.session_count - bindparam("lost_sessions"),
        first_seen_at=_first_seen(),
        last_seen_at=_last_seen(),
        updated_at=bindparam("now"),
    )
)


def _update_devices(
    connection: Connection, lost_messages: Counter[str], lost_sessions: Counter[str], now: datetime
) -> None:
    macs = sorted(set(lost_messages) | set(lost_sessions))
    if macs:
        connection.execute(
            _TAKE_FROM_DEVICE,
            [
                {
                    "device_mac": mac,
                    "lost_messages": lost_messages[mac],
                    "lost_sessions": lost_sessions[mac],
                    "now": now,
                }
                for mac in macs
            ],
        )


def settle_after_import(
    connection: Connection, session_ids: set[str], macs: set[str], now: datetime
) -> None:
    """After an import that withheld messages: recount the sessions and devices concerned
    (and every erased one the archive brought), dropping erased or emptied ones left empty."""
    erased_sessions = _erased_rows(connection, "session", sessions.c.session_id)
    erased_devices = _erased_rows(connection, "device", devices.c.mac)
    emptied = _recount_sessions(connection, session_ids | erased_sessions, now)
    for part in chunked(emptied):
        owners = connection.execute(
            select(sessions.c.device).where(sessions.c.session_id.in_(part)).distinct()
        )
        macs = macs | {row.device for row in owners if row.device is not None}
        connection.execute(delete(sessions).where(sessions.c.session_id.in_(part)))
        forget_sessions(connection, part)
    recount = sorted(macs | erased_devices)
    for part in chunked(recount):
        connection.execute(
            update(devices)
            .where(devices.c.mac.in_(part))
            .values(message_count=0, session_count=0, first_seen_at=None, last_seen_at=None)
        )
    refresh_devices(connection, recount, now)
    for part in chunked(sorted(erased_devices)):
        connection.execute(
            delete(devices).where(devices.c.mac.in_(part), devices.c.message_count == 0)
        )


def _erased_rows(connection: Connection, kind: str, key: Any) -> set[str]:
    """Keys of rows (sessions or devices) that have a tombstone."""
    query = select(key).join(erasures, (erasures.c.kind == kind) & (erasures.c.key == key))
    return {row[0] for row in connection.execute(query)}
