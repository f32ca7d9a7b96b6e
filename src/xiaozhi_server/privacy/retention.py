"""Retention: delete messages and audio older than their rules allow, in bounded batches.

A pass walks every rule (per device, per agent, then the default; messages first, then
audio) and deletes in batches of at most ``retention.batch_size``, each its own short
transaction sized by how long the last one took (about BATCH_SECONDS), with a rest as long
after each, so a report queues behind one short batch at most, never behind the whole pass.
Deleting keeps sessions, devices, the search index and statistics exact (store/purge.py).
Audio past its days loses its bytes; the message keeps its text. The write path refuses
what is already past retention (privacy/admission.py), so a sync re-reading old upstream
rows does not refill what a pass deleted.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from xiaozhi_server.ops.metrics import RETENTION_LAST_PASS, RETENTION_PURGED
from xiaozhi_server.privacy.policy import KINDS, DataPolicy
from xiaozhi_server.store import purge, scopes, wal
from xiaozhi_server.store.audit import AuditEntry, record
from xiaozhi_server.store.database import Store

log = logging.getLogger(__name__)
LOCK_NAME = "xiaozhi-server:retention"
PAUSE_FACTOR = 1.0
# A batch's rows cost more as the store grows (1,000,000 messages: ~0.25 ms a row on two
# cores), so its size follows the time it took rather than a fixed count.
BATCH_SECONDS = 0.025
MIN_BATCH = 10
ADVISORY_KEY = 7_342_017


@dataclass(slots=True)
class RetentionReport:
    """What a pass deleted (or, in a dry run, would delete).

    ``totals``: messages, audio (clips deleted; in a dry run, the messages whose audio would
    go by the audio rules), audio_bytes and sessions (left empty, so dropped). ``rules``: the
    same per rule (``device a0:85:… (7 days)``, ``agent a1 (30 days)``, ``default (90
    days)``). A dry run also counts them ``by_device`` and ``by_agent``.
    """

    dry_run: bool = False
    totals: Counter[str] = field(default_factory=Counter)
    rules: dict[str, Counter[str]] = field(default_factory=dict)
    by_device: dict[str, Counter[str]] = field(default_factory=dict)
    by_agent: dict[str, Counter[str]] = field(default_factory=dict)

    def count(self, rule: str, kind: str, value: int) -> None:
        """Add ``value`` of ``kind`` under ``rule``."""
        if value:
            self.rules.setdefault(rule, Counter())[kind] += value


async def run_pass(
    store: Store,
    policy: DataPolicy,
    batch_size: int = 1000,
    dry_run: bool = False,
    now: datetime | None = None,
) -> RetentionReport:
    """One pass over every rule; with ``dry_run`` only count."""
    now = now or datetime.now(UTC)
    report = RetentionReport(dry_run=dry_run)
    for kind in KINDS:
        find_parts = functools.partial(scopes.retention_parts, rules=policy.rules(kind))
        async with store.read() as connection:
            parts = await connection.run_sync(find_parts)
        for rule in parts:
            before = now - timedelta(days=rule.days)
            if dry_run:
                count = functools.partial(
                    _count, rule=rule, before=before, kind=kind, report=report
                )
                async with store.read() as connection:
                    await connection.run_sync(count)
            else:
                await _purge(store, rule, kind, before, batch_size, now, report)
    if not dry_run:
        RETENTION_LAST_PASS.set(now.timestamp())
    return report


async def _purge(
    store: Store,
    rule: scopes.RulePart,
    kind: str,
    before: datetime,
    size: int,
    now: datetime,
    report: RetentionReport,
) -> None:
    """Batch after batch of one rule until a batch comes back short."""
    after: scopes.After | None = None
    batch = size
    while True:
        work = functools.partial(
            _batch, rule=rule, kind=kind, before=before, size=batch, after=after, now=now
        )
        started = time.perf_counter()
        removed, after, full = await store.run_write(work)
        took = time.perf_counter() - started
        _tally(report, rule, kind, removed)
        if not full:
            return
        batch = next_batch_size(batch, size, took)
        # Rest as long as the batch took: a purge has the writer half the time at most, so
        # reports are never queued behind a run of batches; the log its deletions filled is
        # written back meanwhile, not by the next report's commit.
        await wal.checkpoint(store)
        await asyncio.sleep((time.perf_counter() - started) * PAUSE_FACTOR)


def next_batch_size(size: int, limit: int, took: float) -> int:
    """The next batch's size after one of ``size`` rows took ``took`` seconds: scaled so a
    batch holds the writer about BATCH_SECONDS (a report arriving meanwhile waits that long
    at most), never above ``limit`` (``retention.batch_size``) nor below MIN_BATCH."""
    if took > BATCH_SECONDS:
        return max(MIN_BATCH, int(size * BATCH_SECONDS / took))
    if took < BATCH_SECONDS / 2:
        return min(limit, size * 2)
    return size


def _batch(
    connection: Connection,
    rule: scopes.RulePart,
    kind: str,
    before: datetime,
    size: int,
    after: scopes.After | None,
    now: datetime,
) -> tuple[purge.Removed, scopes.After | None, bool]:
    audio_only = kind == "audio"
    rows = scopes.select_batch(connection, rule.part, before, size, after, audio_only)
    removed = (
        purge.clear_audio(connection, rows, now)
        if audio_only
        else purge.delete_messages(connection, rows, now)
    )
    last = (rows[-1].created_at, rows[-1].id) if rows else after
    return removed, last, len(rows) == size


def _tally(
    report: RetentionReport, rule: scopes.RulePart, kind: str, removed: purge.Removed
) -> None:
    name = rule_name(rule)
    changes = {
        "messages": removed.messages,
        "audio": removed.audio,
        "audio_bytes": removed.audio_bytes,
        "sessions": len(removed.sessions),
    }
    for name_of_kind, value in changes.items():
        report.totals[name_of_kind] += value
        if name_of_kind != "audio_bytes":
            RETENTION_PURGED.labels(name_of_kind).inc(value)
    report.count(name, "messages", removed.messages)
    report.count(name, "audio", removed.audio)


def _count(
    connection: Connection,
    rule: scopes.RulePart,
    before: datetime,
    kind: str,
    report: RetentionReport,
) -> None:
    counted = scopes.count_by_owner(connection, rule.part, before, kind == "audio")
    bindings = scopes.device_agents(connection, sorted({device for device, _ in counted}))
    for (device, agent_id), value in counted.items():
        owner = agent_id or bindings.get(device) or "(none)"
        report.totals[kind] += value
        report.count(rule_name(rule), kind, value)
        report.by_device.setdefault(device, Counter())[kind] += value
        report.by_agent.setdefault(owner, Counter())[kind] += value


def rule_name(rule: scopes.RulePart) -> str:
    """'device a0:85:…', 'agent a1' or 'default', with its days."""
    scope = "default" if rule.key is None else f"{rule.scope} {rule.key}"
    return f"{scope} ({rule.days} days)"


async def run_and_record(
    store: Store, policy: DataPolicy, batch_size: int, actor: str, actor_kind: str
) -> RetentionReport:
    """A real pass, logged, with an audit entry (counts only) if anything was deleted."""
    report = await run_pass(store, policy, batch_size)
    totals = {kind: value for kind, value in report.totals.items() if value}
    if totals:
        log.info("retention deleted %s", ", ".join(f"{v} {k}" for k, v in totals.items()))
        await record(store, AuditEntry(actor, actor_kind, "retention", detail=totals))
    return report
