"""Group commit: concurrent small batches (one report each) share one transaction.

Each caller still waits until its own records are durably committed; under load many
callers' records ride on one commit instead of one commit each.

With ``depth`` 2 (a store whose writer runs units of work in the order they are sent: the
SQLite writer process), the next group is prepared and sent while the previous one
commits. Without it, a closed loop of N clients forms one group of N, and this process
and the writer take turns: each idle while the other works.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from xiaozhi_server.domain import Batch
from xiaozhi_server.ingest.normalise import Rejection
from xiaozhi_server.ingest.pipeline import Ingestor, IngestResult
from xiaozhi_server.ops.metrics import INGEST_BATCHES

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Pending:
    batch: Batch
    future: asyncio.Future[IngestResult] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommitter:
    """Queues batches and writes whatever has queued up in one ingest call."""

    def __init__(self, ingestor: Ingestor, max_records: int = 1000, depth: int = 1) -> None:
        self._ingestor = ingestor
        self._max_records = max_records
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._depth = depth
        self._in_flight: set[asyncio.Task[None]] = set()

    async def submit(self, batch: Batch) -> IngestResult:
        """Store ``batch``; return once it is committed (or raise what the store raised)."""
        pending = _Pending(batch)
        self._queue.put_nowait(pending)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._run(), name="group-commit")
        return await pending.future

    async def close(self) -> None:
        """Stop the worker; batches still queued fail with CancelledError."""
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        for task in self._in_flight:
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        while not self._queue.empty():
            self._queue.get_nowait().future.cancel()

    async def _run(self) -> None:
        slots = asyncio.Semaphore(self._depth)
        while True:
            await slots.acquire()
            group = [await self._queue.get()]
            size = len(group[0].batch)
            while not self._queue.empty() and size < self._max_records:
                group.append(self._queue.get_nowait())
                size += len(group[-1].batch)
            INGEST_BATCHES.observe(size)
            task = asyncio.create_task(self._commit(group), name="group-commit-write")
            self._in_flight.add(task)
            task.add_done_callback(self._in_flight.discard)
            task.add_done_callback(lambda _: slots.release())

    async def _commit(self, group: list[_Pending]) -> None:
        try:
            merged = await self._ingestor.ingest(_merge([p.batch for p in group]))
        except Exception as exc:
            if len(group) == 1:
                _fail(group[0], exc)
                return
            # One bad batch must not fail its neighbours: retry each on its own.
            log.warning(
                "group of %d batches failed; retrying one by one", len(group), exc_info=True
            )
            for pending in group:
                await _settle_alone(pending, self._ingestor)
            return
        for pending, result in zip(group, _split(merged, group), strict=True):
            if not pending.future.done():
                pending.future.set_result(result)


def _fail(pending: _Pending, exc: Exception) -> None:
    if not pending.future.done():
        pending.future.set_exception(exc)


async def _settle_alone(pending: _Pending, ingestor: Ingestor) -> None:
    try:
        result = await ingestor.ingest(pending.batch)
    except Exception as exc:
        _fail(pending, exc)
        return
    if not pending.future.done():
        pending.future.set_result(result)


def _merge(batches: list[Batch]) -> Batch:
    merged = Batch()
    for batch in batches:
        merged.messages.extend(batch.messages)
        merged.audio.extend(batch.audio)
        merged.devices.extend(batch.devices)
        merged.agents.extend(batch.agents)
        merged.titles.extend(batch.titles)
    return merged


def _split(merged: IngestResult, group: list[_Pending]) -> list[IngestResult]:
    """Each caller's share of the rejections (re-indexed to its own batch)."""
    results: list[IngestResult] = []
    offsets = {kind: 0 for kind in ("message", "audio", "device", "agent", "title")}
    for pending in group:
        sizes = {
            "message": len(pending.batch.messages),
            "audio": len(pending.batch.audio),
            "device": len(pending.batch.devices),
            "agent": len(pending.batch.agents),
            "title": len(pending.batch.titles),
        }
        mine = [
            Rejection(r.kind, r.index - offsets[r.kind], r.reason)
            for r in merged.rejected
            if offsets[r.kind] <= r.index < offsets[r.kind] + sizes[r.kind]
        ]
        results.append(IngestResult(rejected=mine))
        for kind, size in sizes.items():
            offsets[kind] += size
    return results
