"""A normalised batch made ready to write: natural keys computed, messages as plain rows,
duplicates within the batch dropped, and for large batches the search terms too.

This runs where the batch was read (the event loop of ``serve``, the sync's loop), not in
the store's writer, which on SQLite is one process for the whole store. Plain tuples also
cross to the writer process about ten times faster than the record objects would. Search
terms (SQLite's index) are computed here too: since the statistics rollups joined the write
transaction, the writer is the slower side for reports as well as for sync pages.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
from xiaozhi_server.ingest.natural_key import epoch_millis, natural_key_millis
from xiaozhi_server.store.search_terms import fts_words
from xiaozhi_server.store.types import utc_text, utc_text_from_millis
from xiaozhi_server.store.writes import MESSAGE_COLUMNS

MessageRow = tuple[Any, ...]  # values in MESSAGE_COLUMNS order, times as UTC text
_CONTENT = MESSAGE_COLUMNS.index("content")
_AUDIO_ID = MESSAGE_COLUMNS.index("audio_id")
__all__ = ["MESSAGE_COLUMNS", "MessageRow", "PreparedBatch", "prepare"]


@dataclass(slots=True)
class PreparedBatch:
    """What one transaction writes, at ``now``. ``messages`` has one row per natural key,
    in the order the records came, each exactly as the messages table gets it (created_at,
    ingested_at and updated_at as UTC text: ``types.utc_text``); ``terms`` (SQLite's search
    index), when computed here, has one entry per row; ``authoritative`` holds the
    positions of rows that are the upstream's current state (their audio_id wins, even
    when it is None). ``events``: the caller publishes events, so the writer returns the
    rows they carry."""

    now: datetime
    events: bool = True
    messages: list[MessageRow] = field(default_factory=list)
    terms: list[str] | None = None
    authoritative: frozenset[int] = frozenset()
    received: int = 0  # message records before duplicates within the batch were dropped
    # position → records dropped as duplicates of the row there (rare: usually empty)
    repeats: dict[int, int] = field(default_factory=dict)
    audio: list[AudioRecord] = field(default_factory=list)
    devices: list[DeviceRecord] = field(default_factory=list)
    agents: list[AgentRecord] = field(default_factory=list)
    titles: list[TitleRecord] = field(default_factory=list)
    deletions: list[Deletion] = field(default_factory=list)
    on_delete: str = "archive"
    checkpoint: Checkpoint | None = None
    recount_rollups: bool = False

    def message_dict(self, position: int) -> dict[str, Any]:
        """The message row at ``position`` by column name."""
        return dict(zip(MESSAGE_COLUMNS, self.messages[position], strict=True))

    def records_at(self, position: int) -> int:
        """How many of the batch's records the row at ``position`` stands for."""
        return 1 + self.repeats.get(position, 0)

    def subset(self, kept: list[int], cleared: set[int]) -> PreparedBatch:
        """This batch with only the rows at the positions ``kept`` (in order); those at
        ``cleared`` without their audio id, which is then no longer the upstream's word."""
        moved = {old: new for new, old in enumerate(kept)}
        gone = sum(self.records_at(at) for at in range(len(self.messages)) if at not in moved)
        return replace(
            self,
            messages=[
                _without_audio(self.messages[at]) if at in cleared else self.messages[at]
                for at in kept
            ],
            terms=None if self.terms is None else [self.terms[at] for at in kept],
            authoritative=frozenset(
                moved[at] for at in self.authoritative if at in moved and at not in cleared
            ),
            received=self.received - gone,
            repeats={moved[at]: n for at, n in self.repeats.items() if at in moved},
        )

    def search_terms(self, position: int) -> str:
        """The search index's terms for the message at ``position``."""
        if self.terms is not None:
            return self.terms[position]
        return fts_words(self.messages[position][_CONTENT])


def prepare(
    batch: Batch, now: datetime, search_terms: bool, events: bool = True
) -> tuple[PreparedBatch, list[datetime]]:
    """``batch`` (already normalised) as rows written at ``now``; ``search_terms`` when the
    store indexes them (computed here: the writer is what limits a write). Also returns
    each row's created_at as the datetime it came as (for events, which the rows' text
    would have to be parsed back into)."""
    rows: dict[str, tuple[MessageRow, datetime]] = {}
    upstream: set[str] = set()
    repeated: dict[str, int] = {}
    stamp = utc_text(now)
    for record in batch.messages:
        row = message_row(record, stamp)
        if row[0] in rows:  # a later duplicate adds nothing
            repeated[row[0]] = repeated.get(row[0], 0) + 1
        else:
            rows[row[0]] = (row, record.created_at)
        if record.upstream_state:
            upstream.add(row[0])
    messages = [row for row, _ in rows.values()]
    prepared = PreparedBatch(
        now=now,
        events=events,
        messages=messages,
        terms=[fts_words(row[_CONTENT]) for row in messages] if search_terms else None,
        authoritative=frozenset(i for i, row in enumerate(messages) if row[0] in upstream),
        received=len(batch.messages),
        repeats={at: repeated[row[0]] for at, row in enumerate(messages) if row[0] in repeated}
        if repeated
        else {},
        audio=batch.audio,
        devices=batch.devices,
        agents=batch.agents,
        titles=batch.titles,
        deletions=batch.deletions,
        on_delete=batch.on_delete,
        checkpoint=batch.checkpoint,
        recount_rollups=batch.recount_rollups,
    )
    return prepared, [created for _, created in rows.values()]


def _without_audio(row: MessageRow) -> MessageRow:
    return (*row[:_AUDIO_ID], None, *row[_AUDIO_ID + 1 :])


def message_row(record: MessageRecord, stamp: str) -> MessageRow:
    """A normalised message as a row in MESSAGE_COLUMNS order, its natural key first,
    ingested and updated at ``stamp``."""
    millis = epoch_millis(record.created_at)
    return (
        # the content as reported: a voiceprint turn keeps the key it had before speakers
        # had a field of their own
        natural_key_millis(
            record.device,
            record.session_id,
            record.chat_type,
            millis,
            record.reported_content or record.content,
        ),
        record.source,
        record.source_id,
        record.device,
        record.agent_id,
        record.session_id,
        record.chat_type,
        record.content,
        record.speaker,
        record.audio_id,
        utc_text_from_millis(millis),
        stamp,
        stamp,
    )
