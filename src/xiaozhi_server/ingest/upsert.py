"""One normalised batch → one transaction: messages, audio, metadata and aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from xiaozhi_server.ingest.prepare import PreparedBatch
from xiaozhi_server.store import deletes, search, writes
from xiaozhi_server.store.sync_state import write_checkpoint
from xiaozhi_server.store.tables import agents, devices, sessions

Row = dict[str, Any]


@dataclass(slots=True)
class Changes:
    """What one batch changed, for the events published after commit."""

    # the new messages' rows (times as UTC text), here for the aggregates
    messages: list[Row] = field(default_factory=list)
    # the positions in the batch's messages of those inserted, and their ids
    new_positions: Sequence[int] = field(default_factory=list)
    new_ids: Sequence[int] = field(default_factory=list)
    duplicates: int = 0
    sessions: list[Row] = field(default_factory=list)
    devices: list[Row] = field(default_factory=list)
    agents: list[Row] = field(default_factory=list)
    updated: int = 0
    deleted: int = 0


def write_batch(connection: Connection, batch: PreparedBatch, now: datetime) -> Changes:
    """Upsert ``batch`` (normalised and prepared) inside the caller's transaction."""
    changes = Changes()
    writes.insert_audio(connection, [_audio_row(a, now) for a in batch.audio])
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
    owned = writes.sessions_with_device(
        connection, sorted({r["session_id"] for r in changes.messages})
    )
    # New messages add to their session's and device's counters (a recount reads every
    # message of the session or device, which grows without bound); only deletes recount.
    grown = writes.grow_sessions(connection, _session_deltas(changes.messages), now)
    recounted = writes.refresh_sessions(connection, sorted(emptied.union(titled)), now)
    changes.sessions = _by_key(grown + recounted, "session_id")
    grown = writes.grow_devices(connection, _device_deltas(changes.messages, owned), now)
    writes.refresh_devices(connection, sorted(gone_devices), now)
    changed_devices.update(gone_devices)
    changed_devices.difference_update(row["mac"] for row in grown)
    changes.devices = grown + writes.rows_by_key(connection, devices, sorted(changed_devices))
    if batch.on_delete == "mirror":
        deletes.drop_empty_sessions(connection, emptied)
    changes.agents = writes.rows_by_key(connection, agents, changed_agents)
    if batch.checkpoint is not None:
        batch.checkpoint.synced += len(changes.messages)
        batch.checkpoint.updated += changes.updated
        batch.checkpoint.deleted += changes.deleted
        write_checkpoint(connection, batch.checkpoint, now)
    return changes


def write_for_caller(connection: Connection, batch: PreparedBatch) -> Changes:
    """``write_batch`` at the batch's time, without the new messages' rows in the result:
    the caller has them (``Changes.new_positions`` says which), and they would cost more
    to send back than to write."""
    changes = write_batch(connection, batch, batch.now)
    changes.messages = []
    return changes


def _session_deltas(new_messages: list[Row]) -> list[Row]:
    """Per session: its device and agent (the first known), new messages and their span."""
    deltas: dict[str, Row] = {}
    for row in new_messages:
        delta = deltas.get(row["session_id"])
        if delta is None:
            deltas[row["session_id"]] = {
                "session_id": row["session_id"],
                "device": row["device"],
                "agent_id": row["agent_id"],
                "messages": 1,
                "first": row["created_at"],
                "last": row["created_at"],
            }
            continue
        delta["messages"] += 1
        delta["agent_id"] = delta["agent_id"] or row["agent_id"]
        delta["first"] = min(delta["first"], row["created_at"])
        delta["last"] = max(delta["last"], row["created_at"])
    return list(deltas.values())


def _device_deltas(new_messages: list[Row], owned: set[str]) -> list[Row]:
    """Per device: its agent (the first known), new messages, sessions it gained (those
    that had no device yet), and the time span they cover."""
    deltas: dict[str, Row] = {}
    for row in new_messages:
        delta = deltas.setdefault(
            row["device"],
            {
                "mac": row["device"],
                "agent_id": row["agent_id"],
                "messages": 0,
                "new_sessions": set(),
                "first": row["created_at"],
                "last": row["created_at"],
            },
        )
        delta["messages"] += 1
        delta["agent_id"] = delta["agent_id"] or row["agent_id"]
        if row["session_id"] not in owned:
            delta["new_sessions"].add(row["session_id"])
        delta["first"] = min(delta["first"], row["created_at"])
        delta["last"] = max(delta["last"], row["created_at"])
    return [d | {"sessions": len(d.pop("new_sessions"))} for d in deltas.values()]


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
    if search.is_indexed(connection):
        search.index_prepared(connection, [(id_, batch.search_terms(at)) for at, id_ in new])
    changes.messages = [batch.message_dict(at) | {"id": id_} for at, id_ in new]
    changes.duplicates = batch.received - len(new)
    if len(new) < len(rows):
        inserted = set(changes.new_positions)
        seen_before = [batch.message_dict(at) for at in range(len(rows)) if at not in inserted]
        upstream = {rows[at][0] for at in batch.authoritative}
        existing = writes.find_messages(connection, [row["natural_key"] for row in seen_before])
        fills = _fills(seen_before, existing, now, upstream)
        writes.fill_message_fields(connection, fills)
        changes.updated = len(fills)


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
