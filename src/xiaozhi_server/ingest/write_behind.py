"""Large batches back to back (a first copy, a catch-up): the next batch is read and staged
while the previous one is being written.

A batch is *sent* only once the batch before it has committed. Sending it earlier would
keep the writer busier, but a batch carries its source's checkpoint: had the one before it
failed, its checkpoint would commit past rows that were never stored. This way a failure
stops the chain where it happened, and a source killed at any point resumes from a
checkpoint that describes exactly what is stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import TracebackType

from xiaozhi_server.domain import Batch
from xiaozhi_server.ingest.normalise import Rejection
from xiaozhi_server.ingest.pipeline import Ingestor, IngestResult, Staged
from xiaozhi_server.ingest.upsert import Changes

Settle = Callable[[Batch, IngestResult], None]


class WriteBehind:
    """``async with WriteBehind(ingestor, settle) as writes: await writes.add(batch)``;
    ``settle`` gets each batch's outcome after its commit (events are published by then)."""

    def __init__(self, ingestor: Ingestor, settle: Settle) -> None:
        self._ingestor = ingestor
        self._settle = settle
        self._writing: tuple[Batch, Staged, Awaitable[Changes | None]] | None = None

    async def add(self, batch: Batch) -> list[Rejection]:
        """Stage ``batch``, wait for the previous batch's commit, send this one; return the
        records of ``batch`` that cannot be stored (known before it is written)."""
        staged = self._ingestor.stage(batch)
        previous = await self._committed()
        # sent whole before the CPU work below (the previous batch's events, the next
        # batch's staging), which would otherwise hold up its last bytes
        self._writing = (batch, staged, await self._ingestor.send(staged))
        if previous is not None:
            self._finish(*previous)
        return staged.rejected

    async def __aenter__(self) -> WriteBehind:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            previous = await self._committed()
            if previous is not None:
                self._finish(*previous)
            return
        if self._writing is not None:  # let it end either way; its checkpoint is its own
            await asyncio.gather(self._writing[2], return_exceptions=True)
            self._writing = None

    async def _committed(self) -> tuple[Batch, Staged, Changes | None] | None:
        if self._writing is None:
            return None
        batch, staged, task = self._writing
        self._writing = None
        return batch, staged, await task

    def _finish(self, batch: Batch, staged: Staged, changes: Changes | None) -> None:
        self._settle(batch, self._ingestor.finish(staged, changes))
