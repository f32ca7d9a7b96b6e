"""One normalised batch → one transaction: messages, audio, metadata and aggregates."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.natural_key import natural_key
from xiaozhi_server.privacy.admission import Withheld, admit
from xiaozhi_server.privacy.policy import KEEP_EVERYTHING, DataPolicy
from xiaozhi_server.store import deletes, rollups, search, writes
from xiaozhi_server.store.sync_state import write_checkpoint
from xiaozhi_server.store.tables import agents, devices, sessions

Row = dict[str, Any]
# A message tells which device and agent a session belongs to, but never re-binds it.
_SESSION_FILL_ONLY = frozenset({"device", "agent_id"})
_DEVICE_FILL_ONLY = frozenset({"agent_id"})


@dataclass(slots=True)
class Changes:
    """What one batch changed, for the events published after commit."""

    messages: list[Row] = field(default_factory=list)
    duplicates: int = 0
    sessions: list[Row] = field(default_factory=list)
    devices: list[Row] = field(default_factory=list)
    agents: list[Row] = field(default_factory=list)
    updated: int = 0
    deleted: int = 0
    withheld: Withheld = field(default_factory=Counter)


def write_batch(
    connection: Connection, batch: Batch, now: datetime, policy: DataPolicy = KEEP_EVERYTHING
) -> Changes:
    """Upsert ``batch`` (already normalised) inside the caller's transaction, less what
    erasures, retention and the audio opt-out keep out (privacy/admission.py)."""
    changes = Changes()
    batch, changes.withheld = admit(connection, batch, policy, now)
    # Audio arriving after its message adds its bytes to the message's statistics.
    audio_ids = [a.audio_id for a in batch.audio]
    audio_users = rollups.snapshot_audio_users(connection, audio_ids)
    writes.insert_audio(connection, [_audio_row(a, now) for a in batch.audio])
    rollups.apply(connection, audio_users, rollups.snapshot_audio_users(connection, audio_ids))
    changed_agents = writes.merge_rows(
        connection, agents, [_agent_row(a) for a in batch.agents], now
    )
    changed_devices = set(
        writes.merge_rows(connection, devices, [_device_row(d) for d in batch.devices], now)
    )
    changes.messages, changes.duplicates, changes.updated = _write_messages(
        connection, batch.messages, now
    )
    touched_sessions = {row["session_id"] for row in changes.messages}
    emptied, gone_devices = _apply_deletions(connection, batch, now, changes)
    touched_sessions.update(emptied)
    owned = writes.sessions_with_device(
        connection, sorted({r["session_id"] for r in changes.messages})
    )
    writes.merge_rows(
        connection, sessions, _session_rows(changes.messages), now, _SESSION_FILL_ONLY
    )
    titled = writes.merge_rows(
        connection,
        sessions,
        [{"session_id": t.session_id, "title": t.title} for t in batch.titles],
        now,
    )
    touched_sessions.update(titled)
    new_devices = [{"mac": row["device"], "agent_id": row["agent_id"]} for row in changes.messages]
    writes.merge_rows(connection, devices, _unique(new_devices, "mac"), now, _DEVICE_FILL_ONLY)
    changes.sessions = writes.refresh_sessions(connection, sorted(touched_sessions), now)
    # New messages add to their device's counters; only deletes need a recount (rare), as a
    # recount reads every session of the device, which grows without bound.
    writes.add_to_devices(connection, _device_deltas(changes.messages, owned), now)
    writes.refresh_devices(connection, sorted(gone_devices), now)
    changed_devices.update(gone_devices, (row["device"] for row in changes.messages))
    changes.devices = writes.rows_by_key(connection, devices, sorted(changed_devices))
    if batch.on_delete == "mirror":
        deletes.drop_empty_sessions(connection, emptied)
    changes.agents = writes.rows_by_key(connection, agents, changed_agents)
    if batch.checkpoint is not None:
        batch.checkpoint.synced += len(changes.messages)
        batch.checkpoint.updated += changes.updated
        batch.checkpoint.deleted += changes.deleted
        write_checkpoint(connection, batch.checkpoint, now)
    return changes


def _device_deltas(new_messages: list[Row], owned: set[str]) -> list[Row]:
    """Per device: new messages, sessions it gained, and the time span they cover."""
    deltas: dict[str, Row] = {}
    for row in new_messages:
        delta = deltas.setdefault(
            row["device"],
            {
                "mac": row["device"],
                "messages": 0,
                "new_sessions": set(),
                "first": row["created_at"],
                "last": row["created_at"],
            },
        )
        delta["messages"] += 1
        if row["session_id"] not in owned:
            delta["new_sessions"].add(row["session_id"])
        delta["first"] = min(delta["first"], row["created_at"])
        delta["last"] = max(delta["last"], row["created_at"])
    return [d | {"sessions": len(d.pop("new_sessions"))} for d in deltas.values()]


def _apply_deletions(
    connection: Connection, batch: Batch, now: datetime, changes: Changes
) -> tuple[set[str], set[str]]:
    """Apply the batch's deletions; return the sessions and devices to recount."""
    by_kind: dict[str, list[Any]] = {"message": [], "device": [], "agent": []}
    for deletion in batch.deletions:
        by_kind.setdefault(deletion.kind, []).append(deletion.key)
    count, sessions_touched, devices_touched = deletes.delete_messages(
        connection, [int(k) for k in by_kind["message"]], batch.on_delete, now
    )
    devices_touched.update(deletes.mark_devices_deleted(connection, by_kind["device"], now))
    deletes.mark_agents_deleted(connection, by_kind["agent"], now)
    changes.deleted = count + len(by_kind["device"]) + len(by_kind["agent"])
    return sessions_touched, devices_touched


def _write_messages(
    connection: Connection, records: list[MessageRecord], now: datetime
) -> tuple[list[Row], int, int]:
    """Insert new messages, fill in what later sources know; return (new, duplicates, updated)."""
    all_rows = [_message_row(record, now) for record in records]
    upstream = {
        row["natural_key"] for row, rec in zip(all_rows, records, strict=True) if rec.upstream_state
    }
    rows = _unique(all_rows, "natural_key")
    inserted = writes.insert_messages(connection, rows)
    search.index_messages(connection, inserted)
    rollups.apply(connection, [], rollups.with_audio_bytes(connection, inserted))
    fills: list[Row] = []
    if len(inserted) < len(rows):
        new_keys = {row["natural_key"] for row in inserted}
        seen_before = [row for row in rows if row["natural_key"] not in new_keys]
        existing = writes.find_messages(connection, [row["natural_key"] for row in seen_before])
        fills = _fills(seen_before, existing, now, upstream)
        filled = [fill["message_id"] for fill in fills]
        before = rollups.snapshot(connection, filled)
        writes.fill_message_fields(connection, fills)
        rollups.apply(connection, before, rollups.snapshot(connection, filled))
    return inserted, len(records) - len(inserted), len(fills)


def _fills(
    rows: list[Row], existing: dict[str, Row], now: datetime, upstream: set[str]
) -> list[Row]:
    """Updates for stored messages that a later source knows more about. The upstream's
    current row is authoritative for audio_id (cleared upstream → cleared here)."""
    fills: list[Row] = []
    for row in rows:
        stored = existing.get(row["natural_key"])
        if stored is None:
            continue
        merged = {name: stored[name] or row[name] for name in ("source_id", "agent_id", "audio_id")}
        if row["natural_key"] in upstream:
            merged["audio_id"] = row["audio_id"]
        if any(merged[name] != stored[name] for name in merged):
            fills.append(
                {"message_id": stored["id"], "new_updated_at": now}
                | {f"new_{name}": value for name, value in merged.items()}
            )
    return fills


def _message_row(record: MessageRecord, now: datetime) -> Row:
    return {
        "natural_key": natural_key(
            record.device,
            record.session_id,
            record.chat_type,
            record.created_at,
            record.reported_content or record.content,
        ),
        "source": record.source,
        "source_id": record.source_id,
        "device": record.device,
        "agent_id": record.agent_id,
        "session_id": record.session_id,
        "chat_type": record.chat_type,
        "content": record.content,
        "speaker": record.speaker,
        "audio_id": record.audio_id,
        "created_at": record.created_at,
        "ingested_at": now,
        "updated_at": now,
        "deleted_upstream_at": None,
    }


def _session_rows(message_rows: list[Row]) -> list[Row]:
    rows = [
        {"session_id": row["session_id"], "device": row["device"], "agent_id": row["agent_id"]}
        for row in message_rows
    ]
    return _unique(rows, "session_id")


def _audio_row(record: Any, now: datetime) -> Row:
    return {
        "audio_id": record.audio_id,
        "data": record.data,
        "content_type": record.content_type,
        "size_bytes": len(record.data),
        "created_at": now,
    }


def _agent_row(record: Any) -> Row:
    return {
        "agent_id": record.agent_id,
        "name": record.name,
        "chat_history_conf": record.chat_history_conf,
    }


def _device_row(record: Any) -> Row:
    return {
        "mac": record.device,
        "upstream_id": record.upstream_id,
        "alias": record.alias,
        "board": record.board,
        "app_version": record.app_version,
        "agent_id": record.agent_id,
        "last_connected_at": record.last_connected_at,
    }


def _unique(rows: list[Row], key: str) -> list[Row]:
    """First row per key, in order (later duplicates in one batch add nothing)."""
    seen: dict[Any, Row] = {}
    for row in rows:
        seen.setdefault(row[key], row)
    return list(seen.values())
