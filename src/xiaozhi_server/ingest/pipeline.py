"""The one write path: every source hands its batches to ``Ingestor.ingest``."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from xiaozhi_server.domain import Batch
from xiaozhi_server.ingest.normalise import Rejection, normalise_batch
from xiaozhi_server.ingest.prepare import prepare
from xiaozhi_server.ingest.upsert import Changes, write_for_caller
from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.realtime.payloads import message_payload
from xiaozhi_server.store.database import Store


class Publisher(Protocol):
    """Where events go after a commit (the event bus, or Redis through it)."""

    def publish(self, event: Event) -> None: ...


@dataclass(slots=True)
class IngestResult:
    """The outcome of one batch: what was stored, what was already there, what was refused."""

    stored: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    updated: int = 0
    deleted: int = 0


class Ingestor:
    """Normalise, dedupe and upsert batches; publish events only after they commit."""

    def __init__(self, store: Store, publisher: Publisher) -> None:
        self._store = store
        self._publisher = publisher
        self._search_terms = store.dialect == "sqlite"  # the only store with a search index

    async def ingest(self, batch: Batch) -> IngestResult:
        """Store every valid record of ``batch`` in one transaction and report the rest."""
        clean, rejected = normalise_batch(batch)
        if not len(clean) and clean.checkpoint is None:
            return IngestResult(rejected=rejected)
        prepared = prepare(clean, search_terms=self._search_terms)
        now = datetime.now(UTC)
        changes = await self._store.run_write(
            functools.partial(write_for_caller, batch=prepared, now=now)
        )
        stamps = {"ingested_at": now, "updated_at": now, "deleted_upstream_at": None}
        changes.messages = [
            prepared.message_dict(at) | {"id": id_} | stamps for at, id_ in changes.new_ids
        ]
        self._publish(changes, datetime.now(UTC))
        return IngestResult(
            stored=changes.messages,
            duplicates=changes.duplicates,
            rejected=rejected,
            updated=changes.updated,
            deleted=changes.deleted,
        )

    def _publish(self, changes: Changes, at: datetime) -> None:
        publish = self._publisher.publish
        for message in changes.messages:
            publish(Event("chat_update", message_payload(message), at))
        for session in changes.sessions:
            publish(Event("session_update", session, at))
        for device in changes.devices:
            publish(Event("device_update", device, at))
        for agent in changes.agents:
            publish(Event("agent_update", agent, at))
