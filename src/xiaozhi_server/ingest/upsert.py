"""One normalised batch → one transaction: messages, audio, metadata and aggregates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from xiaozhi_server.ingest.prepare import PreparedBatch
from xiaozhi_server.privacy.admission import Withheld, admit
from xiaozhi_server.privacy.policy import KEEP_EVERYTHING, DataPolicy
from xiaozhi_server.store import aggregates, deletes, rollup_recount, rollups, search, writes
from xiaozhi_server.store.sync_state import write_checkpoint
from xiaozhi_server.store.tables import agents, devices, sessions
from xiaozhi_server.store.types import from_utc_text
from xiaozhi_server.store.writes import MESSAGE_COLUMNS

Row = dict[str, Any]


@dataclass(slots=True)
class Changes:
    """What one batch changed, for the events published after commit."""

    # The new messages: their positions in the batch's messages and their ids. (Their rows
    # are batch.messages[at]; the writer does not send them back, the caller has them.)
    new_positions: Sequence[int] = field(default_factory=list)
    new_ids: Sequence[int] = field(default_factory=list)
    # positions of messages stored without the audio id the batch gave them (opt-out)
    audio_cleared: frozenset[int] = frozenset()
    duplicates: int = 0
    messages: list[Row] = field(default_factory=list)  # filled in by the caller (events)
    sessions: list[Row] = field(default_factory=list)
    devices: list[Row] = field(default_factory=list)
    agents: list[Row] = field(default_factory=list)
    updated: int = 0
    deleted: int = 0
    withheld: Withheld = field(default_factory=Counter)


def write_batch(
    connection: Connection,
    batch: PreparedBatch,
    now: datetime,
    policy: DataPolicy = KEEP_EVERYTHING,
) -> Changes:
    """Upsert ``batch`` (normalised and prepared) inside the caller's transaction, less what
    erasures, retention and the audio opt-out keep out (privacy/admission.py)."""
    changes = Changes()
    if batch.recount_rollups:
        rollup_recount.request(connection, now)
    batch, verdict = admit(connection, batch, policy, now)
    changes.withheld = verdict.withheld
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
    _write_messages(connection, batch, now, changes)
    emptied, gone_devices = _apply_deletions(connection, batch, now, changes)
    titled = writes.merge_rows(
        connection,
        sessions,
        [{"session_id": t.session_id, "title": t.title} for t in batch.titles],
        now,
    )
    grown_sessions, grown = aggregates.grow(
        connection, batch.messages, changes.new_positions, changes.new_ids, now, batch.events
    )
    recounted = writes.refresh_sessions(connection, sorted(emptied.union(titled)), now)
    changes.sessions = _by_key(grown_sessions + recounted, "session_id")
    writes.refresh_devices(connection, sorted(gone_devices), now)
    changed_devices.update(gone_devices)
    changed_devices.difference_update(row["mac"] for row in grown)
    changes.devices = grown + writes.rows_by_key(connection, devices, sorted(changed_devices))
    if batch.on_delete == "mirror":
        deletes.drop_empty_sessions(connection, emptied)
    changes.agents = writes.rows_by_key(connection, agents, changed_agents)
    if batch.checkpoint is not None:
        # a copy: the batch stays as sent, should the store run this transaction again
        checkpoint = replace(
            batch.checkpoint,
            synced=batch.checkpoint.synced + len(changes.new_ids),
            updated=batch.checkpoint.updated + changes.updated,
            deleted=batch.checkpoint.deleted + changes.deleted,
        )
        write_checkpoint(connection, checkpoint, now)
    # positions in the batch as the caller sent it (admission may have dropped rows)
    changes.new_positions = verdict.original(changes.new_positions)
    changes.audio_cleared = verdict.audio_cleared
    return changes


def write_for_caller(
    connection: Connection, batch: PreparedBatch, policy: DataPolicy = KEEP_EVERYTHING
) -> Changes:
    """``write_batch`` at the batch's time (the unit of work ``Ingestor`` sends)."""
    return write_batch(connection, batch, batch.now, policy)


def _by_key(rows: list[Row], key: str) -> list[Row]:
    """The last row per key (a later read of the same row is the newer)."""
    return list({row[key]: row for row in rows}.values())


def _apply_deletions(
    connection: Connection, batch: PreparedBatch, now: datetime, changes: Changes
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
    connection: Connection, batch: PreparedBatch, now: datetime, changes: Changes
) -> None:
    """Insert new messages, fill in what later sources know about stored ones."""
    rows = batch.messages
    changes.new_positions, changes.new_ids = writes.insert_message_rows(connection, rows)
    new = list(zip(changes.new_positions, changes.new_ids, strict=True))
    stored = _stored(batch, new)
    if search.keeps_words(connection):
        search.index_words(connection, [(id_, batch.search_terms(at)) for at, id_ in new])
    else:
        search.index_messages(connection, stored)
    rollups.apply(connection, [], rollups.with_audio_bytes(connection, stored))
    changes.duplicates = batch.received - len(new)
    if len(new) < len(rows):
        inserted = set(changes.new_positions)
        seen_before = [batch.message_dict(at) for at in range(len(rows)) if at not in inserted]
        upstream = {rows[at][0] for at in batch.authoritative}
        existing = writes.find_messages(connection, [row["natural_key"] for row in seen_before])
        fills = _fills(seen_before, existing, now, upstream)
        filled = [fill["message_id"] for fill in fills]
        before = rollups.snapshot(connection, filled)
        writes.fill_message_fields(connection, fills)
        rollups.apply(connection, before, rollups.snapshot(connection, filled))
        changes.updated = len(fills)


def _stored(batch: PreparedBatch, new: list[tuple[int, int]]) -> list[Row]:
    """The rows at these (position, id) pairs as the search index and the statistics read
    them: id, content, owners, type, audio id and created_at as a datetime."""
    rows = []
    for at, id_ in new:
        values = batch.messages[at]
        row = {name: values[index] for name, index in _STORED}
        row["id"], row["created_at"] = id_, from_utc_text(values[_CREATED])
        rows.append(row)
    return rows


_STORED = [
    (name, MESSAGE_COLUMNS.index(name))
    for name in ("session_id", "device", "agent_id", "chat_type", "audio_id", "content")
]
_CREATED = MESSAGE_COLUMNS.index("created_at")


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
