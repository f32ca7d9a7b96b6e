"""The running parts of one xiaozhi-server instance, shared by routes and tasks."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from xiaozhi_server.auth.guard import Authenticator
from xiaozhi_server.config import Settings
from xiaozhi_server.ingest.group_commit import GroupCommitter
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.privacy.masking import Masker
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.realtime.fanout import Fanout
from xiaozhi_server.realtime.local_relay import LocalRelay
from xiaozhi_server.realtime.payloads import MaskedEvents
from xiaozhi_server.realtime.redis_bridge import RedisBridge
from xiaozhi_server.realtime.registry import FeedRegistry, WorkerLink
from xiaozhi_server.sources.tap import UpstreamProxy
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.messages import max_message_id

log = logging.getLogger(__name__)
_RELAY_CONNECT_SECONDS = 10.0


@dataclass(slots=True)
class Services:
    """Settings plus the store, the event bus, the write path, the authenticator and masking."""

    settings: Settings
    store: Store
    bus: EventBus
    ingestor: Ingestor
    committer: GroupCommitter
    authenticator: Authenticator
    proxy: UpstreamProxy | None
    feed: FeedRegistry
    bridge: RedisBridge | None
    masker: Masker
    masked_events: MaskedEvents
    fanout: Fanout
    # events between the workers of one serve without Redis; None in a single process
    relay: LocalRelay | None = None
    worker_index: int = 0
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings, worker: WorkerLink | None = None) -> Services:
        """Wire every part from ``settings`` (nothing connects until first use); ``worker``
        ties this process to the other workers of one ``serve``."""
        store = open_store(settings)
        bus = EventBus()
        bridge = _bridge(settings, bus, store)
        ingestor = Ingestor(store, bridge or bus, data_policy(settings))
        masker = Masker(settings.privacy.mask)
        notification = settings.notification
        fanout = Fanout(notification.queue_size, grace=notification.heartbeat_seconds)
        bus.attach(fanout)
        if bridge is not None:
            bridge.on_gap = fanout.catch_up
        relay_path = worker.relay_path if worker is not None else None
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            ingestor=ingestor,
            committer=GroupCommitter(ingestor, depth=2 if store.ordered_writes else 1),
            authenticator=Authenticator(settings.auth, store),
            proxy=_proxy(settings),
            feed=FeedRegistry(
                notification.max_subscribers, worker.places if worker is not None else None
            ),
            bridge=bridge,
            masker=masker,
            masked_events=MaskedEvents(masker),
            fanout=fanout,
            relay=LocalRelay(relay_path, bus) if relay_path and bridge is None else None,
            worker_index=worker.index if worker is not None else 0,
        )

    async def start(self) -> None:
        """Start the parts that work in the background (the Redis bridge, the relay)."""
        if self.bridge is not None:
            self._tasks.append(asyncio.create_task(self.bridge.run(), name="redis-bridge"))
        if self.relay is not None:
            self._tasks.append(asyncio.create_task(self.relay.run(), name="worker-relay"))
            try:
                await asyncio.wait_for(self.relay.connected.wait(), _RELAY_CONNECT_SECONDS)
            except TimeoutError:
                log.warning("the other workers are out of reach: their events will be missing")

    async def close(self) -> None:
        """Stop background work and close every connection."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.bridge is not None:
            await self.bridge.close()
        if self.relay is not None:
            await self.relay.close()
        await self.committer.close()
        if self.proxy is not None:
            await self.proxy.close()
        await self.store.close()


def _bridge(settings: Settings, bus: EventBus, store: Store) -> RedisBridge | None:
    url = settings.notification.redis_url
    if not url or not settings.features.notifications:
        return None
    return RedisBridge(url, bus, highest_id=lambda: max_message_id(store))


def _proxy(settings: Settings) -> UpstreamProxy | None:
    upstream = settings.esp32_server
    if not (settings.features.tap and upstream.manager_api_url):
        return None
    return UpstreamProxy(upstream.manager_api_url, upstream.timeout, upstream.max_connections)


def data_policy(settings: Settings) -> DataPolicy:
    """What the settings let the store keep (retention, audio opt-out)."""
    return DataPolicy.from_settings(settings.retention, settings.capture)


def open_store(settings: Settings, read_cache_kib: int | None = None) -> Store:
    """The store as ``serve`` and ``sync`` use it (SQLite: the writer that is configured)."""
    storage = settings.storage
    return Store(
        storage.url,
        writer_process=storage.sqlite_writer == "process",
        read_cache_kib=read_cache_kib,
    )


def get_services(connection: HTTPConnection) -> Services:
    """The instance's services, set up by the app's lifespan (a FastAPI dependency)."""
    services: Services = connection.app.state.services
    return services
