"""Binlog row changes → batches for the write path.

Without ``binlog_row_metadata=FULL`` (the MySQL 8 default is MINIMAL) a row carries no
column names, only values by position; ``ColumnNames`` maps positions to names from
information_schema and re-reads a table's mapping after DDL on it.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from xiaozhi_server.domain import Batch, Deletion
from xiaozhi_server.sources import upstream_rows
from xiaozhi_server.sources.binlog_reader import PositionUnusable, RowChange
from xiaozhi_server.sources.upstream_db import UpstreamDatabase

SOURCE = "binlog"
UNNAMED = "UNKNOWN_COL"  # the library's key for a column it has no name for, + position
_DELETION_KIND = {"ai_agent_chat_history": "message", "ai_device": "device", "ai_agent": "agent"}


class ColumnNames:
    """Column names by ordinal position for the followed tables, read when first needed."""

    def __init__(self, upstream: UpstreamDatabase) -> None:
        self._upstream = upstream
        self._order: dict[str, list[str]] = {}

    def forget(self, tables: set[str]) -> None:
        """DDL changed these tables: read their columns again on next use."""
        for table in tables:
            self._order.pop(table, None)

    async def name(self, change: RowChange) -> dict[str, Any]:
        """The change's values keyed by column name (unchanged when the binlog named them).

        Raises ``PositionUnusable`` when the row has another number of columns than the
        table has now: it was written before a schema change, so positions are not to be
        trusted.
        """
        if not any(key.startswith(UNNAMED) for key in change.values):
            return change.values
        order = self._order.get(change.table)
        if order is None or len(order) != len(change.values):
            order = self._order[change.table] = await self._upstream.column_order(change.table)
        if len(order) != len(change.values):
            raise PositionUnusable(
                f"a row of {change.table} has {len(change.values)} columns and the table has "
                f"{len(order)} now: it predates a schema change and carries no column names"
            )
        return {
            order[int(key.removeprefix(UNNAMED))]: value for key, value in change.values.items()
        }


@dataclass(slots=True)
class Converted:
    """Batches in binlog order (a write after a delete starts a new one, as the write path
    applies a batch's deletions last), the rows skipped and the highest new message id."""

    batches: list[Batch] = field(default_factory=lambda: [Batch()])
    skipped: list[tuple[Any, str]] = field(default_factory=list)
    high_id: int = 0


def convert(changes: list[tuple[RowChange, dict[str, Any]]], zone: zoneinfo.ZoneInfo) -> Converted:
    """Turn named row changes into batches of records and deletions."""
    out = Converted()
    for change, row in changes:
        batch = out.batches[-1]
        if change.kind == "delete":
            if kind := _DELETION_KIND.get(change.table):
                batch.deletions.append(Deletion(kind, _key(row["id"])))
            continue
        if batch.deletions:
            batch = Batch()
            out.batches.append(batch)
        try:
            _add(batch, change.table, row, zone)
            if change.table == "ai_agent_chat_history" and change.kind == "insert":
                out.high_id = max(out.high_id, int(row["id"]))
        except (KeyError, ValueError, TypeError) as exc:  # SkippedRow is a ValueError
            reason = f"column {exc} missing" if isinstance(exc, KeyError) else str(exc)
            out.skipped.append((row.get("id"), f"{change.table}: {reason}"))
    return out


def _key(value: Any) -> str | int:
    return value if isinstance(value, int) else str(value)


def _add(batch: Batch, table: str, row: dict[str, Any], zone: zoneinfo.ZoneInfo) -> None:
    if table == "ai_agent_chat_history":
        batch.messages.append(upstream_rows.message_record(row, zone, SOURCE))
    elif table == "ai_agent_chat_title":
        if row["session_id"]:
            batch.titles.append(upstream_rows.title_record(row))
    elif table == "ai_device":
        batch.devices.append(upstream_rows.device_record(row, zone))
    elif table == "ai_agent":
        batch.agents.append(upstream_rows.agent_record(row))
