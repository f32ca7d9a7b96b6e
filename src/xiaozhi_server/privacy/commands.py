"""What ``xiaozhi-server retention`` and ``xiaozhi-server erase`` do and say."""

from __future__ import annotations

import getpass
from collections import Counter

from xiaozhi_server.config import Settings
from xiaozhi_server.privacy import erasure
from xiaozhi_server.privacy.erasure import Counts, Kind, Target
from xiaozhi_server.privacy.retention import RetentionReport, run_and_record, run_pass
from xiaozhi_server.services import data_policy
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store


def operator() -> str:
    """Who runs the command, for the audit trail."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


async def prepared(store: Store, settings: Settings) -> None:
    """Bring the store to the newest schema first, as ``serve`` would."""
    if settings.storage.auto_migrate:
        await migrate.upgrade(store.engine)


async def retention_now(store: Store, settings: Settings, dry_run: bool) -> RetentionReport:
    """One retention pass (or a dry run) with the settings' rules."""
    await prepared(store, settings)
    policy, size = data_policy(settings), settings.retention.batch_size
    if dry_run:
        return await run_pass(store, policy, size, dry_run=True)
    return await run_and_record(store, policy, size, operator(), "cli")


def describe_retention(report: RetentionReport) -> str:
    """The report as lines for a terminal."""
    verb = "would delete" if report.dry_run else "deleted"
    lines = [f"retention {verb}: {_counts(report.totals) or 'nothing'}"]
    for title, groups in (
        ("by rule", report.rules),
        ("by agent", report.by_agent),
        ("by device", report.by_device),
    ):
        if groups:
            lines.append(f"  {title}:")
            lines += [f"    {name}: {_counts(counts)}" for name, counts in sorted(groups.items())]
    return "\n".join(lines)


def _counts(counts: Counter[str]) -> str:
    parts = [
        _plural(counts[key], noun)
        for key, noun in (("messages", "message"), ("sessions", "emptied session"))
        if counts[key]
    ]
    if counts["audio"]:
        size = f" ({_size(counts['audio_bytes'])})" if counts["audio_bytes"] else ""
        parts.append(_plural(counts["audio"], "audio clip") + size)
    return ", ".join(parts)


async def find_for_erasure(
    store: Store, settings: Settings, kind: Kind, identifier: str
) -> tuple[Target, Counts] | None:
    """The target and what erasing it would remove, or None if the store has no such thing."""
    await prepared(store, settings)
    target = await erasure.find_target(store, kind, identifier)
    if target is None:
        return None
    return target, await erasure.preview(store, target)


async def erase_now(store: Store, target: Target) -> Counts:
    """Erase ``target``, audited as the person at the terminal."""
    return await erasure.erase_and_record(store, target, operator(), "cli")


def question(target: Target, counts: Counts) -> str:
    """'Erase 3 sessions, 57 messages and 12 audio clips (1.2 MB) of device 客厅 (a0:…)?'"""
    return f"Erase {amounts(counts)} of {target.describe()}?"


def amounts(counts: Counts) -> str:
    """'3 sessions, 57 messages and 12 audio clips (1.2 MB)'."""
    parts = [
        _plural(counts.sessions, "session"),
        _plural(counts.messages, "message"),
        _plural(counts.audio, "audio clip")
        + (f" ({_size(counts.audio_bytes)})" if counts.audio else ""),
    ]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"
