"""Running the sync: once from the command line, or for ever under ``serve``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from xiaozhi_server.config import Settings
from xiaozhi_server.gc_pauses import BATCH_YOUNG_THRESHOLD, frozen_start_up
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.ops.metrics import SYNC_LEADER
from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.services import Services, data_policy, open_store
from xiaozhi_server.sources.binlog_sync import BinlogFollower
from xiaozhi_server.sources.sync import SERVICE, PassSummary, Progress, Syncer
from xiaozhi_server.sources.upstream_errors import describe
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.leader import Leadership
from xiaozhi_server.store.sync_state import record_failure

log = logging.getLogger(__name__)


SYNC_READ_CACHE_KIB = 8 * 1024


class SyncFailed(Exception):
    """A sync pass that could not complete; the message says why and what to do."""


async def run_sync(
    settings: Settings, once: bool, progress: Progress | None = None
) -> PassSummary | None:
    """``xiaozhi-server sync``: one pass (with the delete reconciliation), or for ever."""
    # Its reads (the cursor, reconciliation's digests) need no large cache; its writer's does.
    store = open_store(settings, read_cache_kib=SYNC_READ_CACHE_KIB)
    try:
        if settings.storage.auto_migrate:
            await migrate.upgrade(store.engine)
        # the command has no feed to publish to
        ingestor = Ingestor(store, None, data_policy(settings))
        with frozen_start_up(BATCH_YOUNG_THRESHOLD):
            if not once:
                await _follow(puller(settings, ingestor, store))
                return None
            return await _one_pass(Syncer(settings, ingestor, store), settings, store, progress)
    finally:
        await store.close()


async def _one_pass(
    syncer: Syncer, settings: Settings, store: Store, progress: Progress | None
) -> PassSummary:
    try:
        return await syncer.run_pass(reconcile=True, progress=progress)
    except Exception as exc:
        message = describe(exc, settings.esp32_server)
        await record_failure(store, SERVICE, message)
        raise SyncFailed(message) from None
    finally:
        await syncer.close()


async def sync_in_background(services: Services) -> None:
    """Under ``serve``: lead (or stand by until the leader goes), then sync for ever."""
    settings = services.settings
    leadership = Leadership(services.store)
    SYNC_LEADER.set(0)
    # A standby tries every interval: the lock is freed the moment the leader dies, so
    # another instance leads within one interval (and has synced within two).
    while True:
        if await leadership.acquire():
            break
        await asyncio.sleep(settings.sync_service.interval)
    log.info("this instance leads the upstream sync")
    SYNC_LEADER.set(1)
    source = puller(
        settings,
        services.ingestor,
        services.store,
        publish=(services.bridge or services.bus).publish,
    )
    try:
        await _follow(source)
    finally:
        SYNC_LEADER.set(0)
        await leadership.release()


def puller(
    settings: Settings,
    ingestor: Ingestor,
    store: Store,
    publish: Callable[[Event], None] | None = None,
) -> Syncer | BinlogFollower:
    """The pull source ``sync_service.mode`` asks for."""
    if settings.sync_service.mode == "binlog":
        return BinlogFollower(settings, ingestor, store, publish=publish)
    return Syncer(settings, ingestor, store, publish=publish)


async def _follow(source: Syncer | BinlogFollower) -> None:
    try:
        await source.run_forever()
    finally:
        await source.close()
