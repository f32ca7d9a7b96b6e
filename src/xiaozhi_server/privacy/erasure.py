"""Erasure on request: one session's, one device's or one agent's whole history.

1. A tombstone is written first, in its own transaction (store/erasures.py explains why
   no write can slip past it). Its cutoff is the later of now and the newest message of the
   scope, so a turn stamped a little in the future by a skewed clock is covered too.
2. Every session of the scope gets a tombstone too (so a title arriving later cannot bring
   one back), before anything is deleted.
3. The scope's messages are deleted in bounded batches, each its own short transaction,
   with their search entries, their audio and the sessions they leave empty; device counts
   and first/last activity stay exact after every batch.
4. Sessions of the scope without messages (title only) go, and so does an erased device's
   row. An agent's row (its name and settings) stays: it is configuration, not history.

What happens after the cutoff is new history and is stored (see docs/operations.md).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Connection

from xiaozhi_server.ingest.normalise import normalise_device
from xiaozhi_server.ops.metrics import ERASED
from xiaozhi_server.store import erasures, purge, scopes
from xiaozhi_server.store.audit import AuditEntry, record
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.devices import find_device
from xiaozhi_server.store.writes import chunked

Kind = Literal["session", "device", "agent"]
KINDS: tuple[Kind, ...] = ("session", "device", "agent")
BATCH = 200  # rows per transaction: reports wait for one batch at most
_JUST_AFTER = timedelta(milliseconds=1)  # created_at has millisecond precision


@dataclass(frozen=True, slots=True)
class Target:
    """What to erase: ``kind`` (session, device, agent), its key in the store (a session
    id, a normalised MAC, an agent id) and a label for people (title, alias, name)."""

    kind: Kind
    key: str
    label: str | None = None

    def describe(self) -> str:
        """'device 客厅 (a0:85:…)', 'session 深圳天气 (s-1)', 'agent a1'."""
        return f"{self.kind} {self.label} ({self.key})" if self.label else f"{self.kind} {self.key}"


@dataclass(slots=True)
class Counts:
    """How much an erasure covers: sessions, messages, audio clips (and bytes), devices."""

    sessions: int = 0
    messages: int = 0
    audio: int = 0
    audio_bytes: int = 0
    devices: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by name."""
        return asdict(self)


async def find_target(store: Store, kind: Kind, identifier: str) -> Target | None:
    """The session, device (MAC in any spelling, or upstream id) or agent named, or None."""
    identifier = identifier.strip()
    if kind == "device":
        row = await find_device(store, normalise_device(identifier), identifier)
        return Target("device", row["mac"], row["alias"]) if row else None
    async with store.read() as connection:
        found = await connection.run_sync(lambda c: scopes.label(c, kind, identifier))
    return Target(kind, identifier, found[1]) if found[0] else None


async def preview(store: Store, target: Target) -> Counts:
    """What erasing ``target`` now would remove."""
    async with store.read() as connection:
        return await connection.run_sync(lambda sync: _preview(sync, target))


def _preview(connection: Connection, target: Target) -> Counts:
    parts = scopes.erasure_parts(connection, target.kind, target.key)
    totals = scopes.scope_totals(connection, parts)
    condition = scopes.session_condition(connection, target.kind, target.key)
    return Counts(
        sessions=scopes.count_sessions(connection, condition),
        messages=totals["messages"],
        audio=totals["audio"],
        audio_bytes=totals["audio_bytes"],
        devices=1 if target.kind == "device" else 0,
    )


async def erase(store: Store, target: Target, batch_size: int = BATCH) -> Counts:
    """Erase ``target``'s history (tombstone first, then bounded batches); return counts."""
    now = datetime.now(UTC)
    # partials, not lambdas: on SQLite they cross to the writer process (store/database.py)
    cutoff, parts = await store.run_write(functools.partial(_tombstone, target=target, now=now))
    async with store.read() as connection:
        covered = await connection.run_sync(
            lambda c: scopes.scope_sessions(c, target.kind, target.key, parts)
        )
    # Every session's tombstone before any deletion: a late title cannot recreate one, and
    # the deleting transactions never wait on a tombstone lock a writer holds (a deadlock).
    for chunk in chunked(sorted(covered)):
        tombstone = functools.partial(
            erasures.put, kind="session", keys=list(chunk), cutoff=cutoff, now=now
        )
        await store.run_write(tombstone)
    counts = Counts()
    for part in parts:
        batch = functools.partial(_erase_batch, part=part, cutoff=cutoff, size=batch_size, now=now)
        full = True
        while full:
            removed, full = await store.run_write(batch)
            _add(counts, removed)
    _add(counts, await store.run_write(functools.partial(_finish, target=target, now=now)))
    for kind, value in counts.as_dict().items():
        if kind != "audio_bytes":
            ERASED.labels(kind).inc(value)
    return counts


async def erase_and_record(
    store: Store, target: Target, actor: str, actor_kind: str, address: str | None = None
) -> Counts:
    """Erase ``target`` and append the audit entry (counts only, never content)."""
    counts = await erase(store, target)
    entry = AuditEntry(
        actor, actor_kind, "erase", f"{target.kind} {target.key}", address, counts.as_dict()
    )
    await record(store, entry)
    return counts


def _tombstone(
    connection: Connection, target: Target, now: datetime
) -> tuple[datetime, list[scopes.Part]]:
    erasures.lock_exclusive(connection)
    erasures.put(connection, target.kind, [target.key], now, now)
    parts = scopes.erasure_parts(connection, target.kind, target.key)
    newest = scopes.latest_message(connection, parts)
    cutoff = max(now, newest) if newest is not None else now
    if cutoff > now:
        erasures.put(connection, target.kind, [target.key], cutoff, now)
    return cutoff, parts


def _erase_batch(
    connection: Connection, part: scopes.Part, cutoff: datetime, size: int, now: datetime
) -> tuple[purge.Removed, bool]:
    rows = scopes.select_batch(connection, part, cutoff + _JUST_AFTER, size)
    return purge.delete_messages(connection, rows, now), len(rows) == size


def _finish(connection: Connection, target: Target, now: datetime) -> purge.Removed:
    """Sessions of the scope left without messages (title only), and an erased device's row."""
    empty = scopes.empty_sessions(connection, target.kind, target.key)
    removed = purge.Removed(sessions=purge.drop_sessions(connection, empty, now))
    if target.kind == "device" and not scopes.device_has_messages(connection, target.key):
        removed.devices.extend([target.key] * purge.delete_device(connection, target.key))
    return removed


def _add(counts: Counts, removed: purge.Removed) -> None:
    counts.messages += removed.messages
    counts.audio += removed.audio
    counts.audio_bytes += removed.audio_bytes
    counts.sessions += len(removed.sessions)
    counts.devices += len(removed.devices)
