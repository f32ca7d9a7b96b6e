"""A normalised batch made ready to write: natural keys computed, messages as plain rows,
duplicates within the batch dropped, and for large batches the search terms too.

This runs where the batch was read (the event loop of ``serve``, the sync's loop), not in
the store's writer, which on SQLite is one process for the whole store. Plain tuples also
cross to the writer process about ten times faster than the record objects would. Search
terms (SQLite's index) are computed here for large batches (a sync page, a bulk load),
where the writer is the slower side; a report's few are left to the writer, which there
waits on the HTTP process rather than the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from xiaozhi_server.domain import (
    AgentRecord,
    AudioRecord,
    Batch,
    Checkpoint,
    Deletion,
    DeviceRecord,
    MessageRecord,
    TitleRecord,
)
from xiaozhi_server.ingest.natural_key import natural_key
from xiaozhi_server.store.search_terms import index_terms
from xiaozhi_server.store.writes import MESSAGE_COLUMNS

MessageRow = tuple[Any, ...]  # values in MESSAGE_COLUMNS order
BULK = 64  # messages from which a batch's search terms are computed before it crosses
_CONTENT = MESSAGE_COLUMNS.index("content")
__all__ = ["MESSAGE_COLUMNS", "MessageRow", "PreparedBatch", "prepare"]


@dataclass(slots=True)
class PreparedBatch:
    """What one transaction writes. ``messages`` has one row per natural key, in the order
    the records came; ``terms`` (SQLite's search index) is None on other databases;
    ``authoritative`` holds the positions of rows that are the upstream's current state
    (their audio_id wins, even when it is None)."""

    messages: list[MessageRow] = field(default_factory=list)
    terms: list[str] | None = None
    authoritative: frozenset[int] = frozenset()
    received: int = 0  # message records before duplicates within the batch were dropped
    audio: list[AudioRecord] = field(default_factory=list)
    devices: list[DeviceRecord] = field(default_factory=list)
    agents: list[AgentRecord] = field(default_factory=list)
    titles: list[TitleRecord] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    on_delete: str = "archive"
    checkpoint: Checkpoint | None = None

    def message_dict(self, position: int) -> dict[str, Any]:
        """The message row at ``position`` by column name."""
        return dict(zip(MESSAGE_COLUMNS, self.messages[position], strict=True))

    def search_terms(self, position: int) -> str:
        """The search index's terms for the message at ``position``."""
        if self.terms is not None:
            return self.terms[position]
        return index_terms(self.messages[position][_CONTENT])


def prepare(batch: Batch, search_terms: bool) -> PreparedBatch:
    """``batch`` (already normalised) as rows; ``search_terms`` when the store indexes
    them (computed here for a batch of BULK messages or more)."""
    rows: dict[str, MessageRow] = {}
    upstream: set[str] = set()
    for record in batch.messages:
        row = message_row(record)
        rows.setdefault(row[0], row)  # a later duplicate within the batch adds nothing
        if record.upstream_state:
            upstream.add(row[0])
    messages = list(rows.values())
    return PreparedBatch(
        messages=messages,
        terms=[index_terms(row[_CONTENT]) for row in messages]
        if search_terms and len(messages) >= BULK
        else None,
        authoritative=frozenset(i for i, row in enumerate(messages) if row[0] in upstream),
        received=len(batch.messages),
        audio=batch.audio,
        devices=batch.devices,
        agents=batch.agents,
        titles=batch.titles,
        deletions=batch.deletions,
        on_delete=batch.on_delete,
        checkpoint=batch.checkpoint,
    )


def message_row(record: MessageRecord) -> MessageRow:
    """A normalised message as a row in MESSAGE_COLUMNS order, its natural key first."""
    created_at: datetime = record.created_at
    return (
        natural_key(record.device, record.session_id, record.chat_type, created_at, record.content),
        record.source,
        record.source_id,
        record.device,
        record.agent_id,
        record.session_id,
        record.chat_type,
        record.content,
        record.audio_id,
        created_at,
    )
