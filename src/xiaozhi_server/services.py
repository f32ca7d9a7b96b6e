"""The running parts of one xiaozhi-server instance, shared by routes and tasks."""

from __future__ import annotations

from dataclasses import dataclass

from xiaozhi_server.auth.guard import Authenticator
from xiaozhi_server.config import Settings
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store


@dataclass(slots=True)
class Services:
    """Settings plus the store, the event bus, the write path and the authenticator."""

    settings: Settings
    store: Store
    bus: EventBus
    ingestor: Ingestor
    authenticator: Authenticator

    @classmethod
    def build(cls, settings: Settings) -> Services:
        """Wire every part from ``settings`` (nothing connects until first use)."""
        store = Store(settings.storage.url)
        bus = EventBus()
        return cls(
            settings=settings,
            store=store,
            bus=bus,
            ingestor=Ingestor(store, bus),
            authenticator=Authenticator(settings.auth, store),
        )
