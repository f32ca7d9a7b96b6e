"""The one write path: every source hands its batches to ``Ingestor.ingest``."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from xiaozhi_server.domain import Batch
from xiaozhi_server.ingest.normalise import Rejection, normalise_batch
from xiaozhi_server.ingest.prepare import PreparedBatch, prepare
from xiaozhi_server.ingest.upsert import Changes, write_for_caller
from xiaozhi_server.ops.metrics import WITHHELD
from xiaozhi_server.privacy.policy import KEEP_EVERYTHING, DataPolicy
from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.realtime.payloads import message_payload
from xiaozhi_server.store.database import Store


class Publisher(Protocol):
    """Where events go after a commit (the event bus, or Redis through it)."""

    def publish(self, event: Event) -> None: ...


@dataclass(slots=True)
class IngestResult:
    """The outcome of one batch: what was stored, what was already there, what was refused.

    ``stored`` holds the new messages' rows when the ingestor publishes events (their
    payloads are built from them anyway); ``inserted`` always counts them."""

    stored: list[dict[str, Any]] = field(default_factory=list)
    inserted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    updated: int = 0
    deleted: int = 0
    # messages not stored because an erasure or retention keeps them out
    withheld: int = 0


@dataclass(slots=True)
class Staged:
    """A batch normalised and prepared, not yet written (``Ingestor.stage``)."""

    prepared: PreparedBatch | None  # None: nothing in the batch can be stored
    rejected: list[Rejection]
    created: list[datetime] = field(default_factory=list)  # each message row's time


class Ingestor:
    """Normalise, dedupe and upsert batches; publish events only after they commit.

    ``ingest`` does it all; a source that reads large batches back to back can instead
    ``stage`` the next batch while the previous one is being written (``WriteBehind``).
    """

    def __init__(
        self, store: Store, publisher: Publisher | None, policy: DataPolicy = KEEP_EVERYTHING
    ) -> None:
        """``publisher`` None: nobody could receive events (the ``sync`` command);
        ``policy``: what erasures aside the store may keep (privacy/admission.py)."""
        self._store = store
        self._publisher = publisher
        self._policy = policy
        self._search_terms = store.dialect == "sqlite"  # the only store with a search index

    async def start(self) -> None:
        """Start the store's writer process, if it has one, and load the write path into it
        with an empty batch, so that the first report waits for neither."""
        if self._store.ordered_writes:
            await self._store.start_writer()
            await self.write(Staged(PreparedBatch(now=datetime.now(UTC)), []))

    async def ingest(self, batch: Batch) -> IngestResult:
        """Store every valid record of ``batch`` in one transaction and report the rest."""
        staged = self.stage(batch)
        return self.finish(staged, await self.write(staged))

    def stage(self, batch: Batch) -> Staged:
        """Normalise and prepare ``batch`` (the CPU work done before the store is asked)."""
        clean, rejected = normalise_batch(batch)
        if not len(clean) and clean.checkpoint is None:
            return Staged(None, rejected)
        prepared, created = prepare(
            clean, datetime.now(UTC), self._search_terms, events=self._publisher is not None
        )
        return Staged(prepared, rejected, created)

    async def write(self, staged: Staged) -> Changes | None:
        """Write a staged batch in one transaction; return what it changed."""
        if staged.prepared is None:
            return None
        return await self._store.run_write(self._work(staged.prepared))

    async def send(
        self, staged: Staged, after: asyncio.Future[Any] | None = None
    ) -> asyncio.Future[Changes | None]:
        """Hand a staged batch to the store's writer; the future is ``write``'s result.
        Returns once the writer has the batch, so the caller can stage the next one. With
        ``after`` (an earlier ``send``'s future), it is written only if that one was."""
        if staged.prepared is None:  # nothing to write, no checkpoint to keep in order
            nothing: asyncio.Future[Changes | None] = asyncio.get_running_loop().create_future()
            nothing.set_result(None)
            return nothing
        return await self._store.submit_write(self._work(staged.prepared), after)

    def _work(self, prepared: PreparedBatch) -> Callable[[Connection], Changes]:
        # module-level function and arguments: it can cross to the writer process
        return functools.partial(write_for_caller, batch=prepared, policy=self._policy)

    def finish(self, staged: Staged, changes: Changes | None) -> IngestResult:
        """Publish what a committed batch changed; the batch's outcome."""
        if staged.prepared is None or changes is None:
            return IngestResult(rejected=staged.rejected)
        for (kind, reason), count in changes.withheld.items():
            WITHHELD.labels(kind, reason).inc(count)
        if self._publisher is not None:  # rows are built for events only (a million, unused)
            changes.messages = self._stored_rows(staged, changes)
            self._publish(changes, datetime.now(UTC))
        return IngestResult(
            stored=changes.messages,
            inserted=len(changes.new_ids),
            duplicates=changes.duplicates,
            rejected=staged.rejected,
            updated=changes.updated,
            deleted=changes.deleted,
            withheld=sum(n for (kind, _), n in changes.withheld.items() if kind == "message"),
        )

    @staticmethod
    def _stored_rows(staged: Staged, changes: Changes) -> list[dict[str, Any]]:
        assert staged.prepared is not None
        prepared, now = staged.prepared, staged.prepared.now
        times = {"ingested_at": now, "updated_at": now, "deleted_upstream_at": None}
        rows = [
            prepared.message_dict(at) | {"id": id_, "created_at": staged.created[at]} | times
            for at, id_ in zip(changes.new_positions, changes.new_ids, strict=True)
        ]
        if changes.audio_cleared:  # stored without the audio the batch offered (opt-out)
            for at, row in zip(changes.new_positions, rows, strict=True):
                if at in changes.audio_cleared:
                    row["audio_id"] = None
        return rows

    def _publish(self, changes: Changes, at: datetime) -> None:
        assert self._publisher is not None
        publish = self._publisher.publish
        for message in changes.messages:
            publish(Event("chat_update", message_payload(message), at))
        for session in changes.sessions:
            publish(Event("session_update", session, at))
        for device in changes.devices:
            publish(Event("device_update", device, at))
        for agent in changes.agents:
            publish(Event("agent_update", agent, at))
