"""The running parts of one xiaozhi-server instance, shared by routes and tasks."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from xiaozhi_server.auth.guard import Authenticator
from xiaozhi_server.config import Settings
from xiaozhi_server.ingest.group_commit import GroupCommitter
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.realtime.redis_bridge import RedisBridge
from xiaozhi_server.realtime.registry import FeedRegistry
from xiaozhi_server.sources.tap import UpstreamProxy
from xiaozhi_server.store.database import Store


@dataclass(slots=True)
class Services:
    """Settings plus the store, the event bus, the write path and the authenticator."""

    settings: Settings
    store: Store
    bus: EventBus
    ingestor: Ingestor
    committer: GroupCommitter
    authenticator: Authenticator
    proxy: UpstreamProxy | None
    feed: FeedRegistry
    bridge: RedisBridge | None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Wire every part from ``settings`` (nothing connects until first use)."""
        store = open_store(settings)
        bus = EventBus()
        bridge = _bridge(settings, bus)
        ingestor = Ingestor(store, bridge or bus)
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            ingestor=ingestor,
            committer=GroupCommitter(ingestor, depth=2 if store.ordered_writes else 1),
            authenticator=Authenticator(settings.auth, store),
            proxy=_proxy(settings),
            feed=FeedRegistry(settings.notification.max_subscribers),
            bridge=bridge,
        )

    def start(self) -> None:
        """Start the parts that work in the background (the Redis bridge)."""
        if self.bridge is not None:
            self._tasks.append(asyncio.create_task(self.bridge.run(), name="redis-bridge"))

    async def close(self) -> None:
        """Stop background work and close every connection."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.bridge is not None:
            await self.bridge.close()
        await self.committer.close()
        if self.proxy is not None:
            await self.proxy.close()
        await self.store.close()


def _bridge(settings: Settings, bus: EventBus) -> RedisBridge | None:
    url = settings.notification.redis_url
    return RedisBridge(url, bus) if url and settings.features.notifications else None


def _proxy(settings: Settings) -> UpstreamProxy | None:
    upstream = settings.esp32_server
    if not (settings.features.tap and upstream.manager_api_url):
        return None
    return UpstreamProxy(upstream.manager_api_url, upstream.timeout, upstream.max_connections)


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
