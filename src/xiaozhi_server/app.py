"""The ASGI application: wiring and lifespan."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from xiaozhi_server import __version__
from xiaozhi_server.api import (
    agents,
    audio,
    audit,
    console,
    devices,
    erasure,
    export,
    features,
    health,
    marks,
    metrics,
    search,
    sessions,
    share_page,
    shares,
    sign_in,
    stats,
    sync_status,
    users,
)
from xiaozhi_server.api.compat import compat_router
from xiaozhi_server.api.contract import install_openapi
from xiaozhi_server.api.disabled import disabled_router
from xiaozhi_server.api.errors import install_error_handlers
from xiaozhi_server.api.security_headers import SecurityHeadersMiddleware
from xiaozhi_server.auth.admins import ensure_admin
from xiaozhi_server.config import Settings
from xiaozhi_server.gc_pauses import frozen_start_up
from xiaozhi_server.ops.http_metrics import LatencyMiddleware
from xiaozhi_server.ops.logs import RequestIdMiddleware
from xiaozhi_server.privacy.retention_job import retention_in_background
from xiaozhi_server.realtime import feed
from xiaozhi_server.realtime.direct import FeedWebSocketProtocol
from xiaozhi_server.realtime.registry import WorkerLink
from xiaozhi_server.services import Services
from xiaozhi_server.sources.capture import ReportFastPath, capture_router
from xiaozhi_server.sources.sync_runner import sync_in_background
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store

log = logging.getLogger(__name__)

BackgroundTask = Callable[[Services], Coroutine[Any, Any, None]]


def create_app(
    settings: Settings, background: Sequence[BackgroundTask] = (), worker: WorkerLink | None = None
) -> FastAPI:
    """The app for ``settings``; ``background`` tasks run while it serves; ``worker`` ties
    it to the other worker processes of one ``serve``."""
    app = FastAPI(
        title="xiaozhi-server",
        version=__version__,
        description="Chat-history hub for xiaozhi-esp32-server deployments.",
        lifespan=_lifespan(settings, background, worker),
    )
    install_error_handlers(app)
    install_openapi(app)
    if settings.features.capture and not _tap(settings):
        # innermost: the app's middlewares below apply to its answers too
        app.add_middleware(ReportFastPath, prefix=settings.capture.prefix)
    app.add_middleware(LatencyMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    _mount_routes(app, settings)
    return app


def _lifespan(
    settings: Settings, background: Sequence[BackgroundTask], worker: WorkerLink | None
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = Services.build(settings, worker)
        app.state.services = services
        await _prepare_store(services.store, settings)
        await services.ingestor.start()  # not on the first report's time
        await services.start()
        jobs = list(background)
        # One sync per serve: in the first worker (SQLite has no lock to elect a leader).
        leads = worker is None or worker.index == 0
        if settings.features.sync and settings.sync_service.enabled and leads:
            jobs.append(sync_in_background)
        if settings.retention.configured:
            jobs.append(retention_in_background)
        tasks = [asyncio.create_task(job(services)) for job in jobs]
        try:
            with frozen_start_up():
                yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await services.close()

    return lifespan


def _mount_routes(app: FastAPI, settings: Settings) -> None:
    """Every route the settings turn on; the order matters where paths overlap."""
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in (
        sign_in,
        features,
        devices,
        agents,
        sessions,
        search,
        stats,
        audio,
        sync_status,
        users,
        audit,
        marks,
        shares,
        share_page,
    ):
        app.include_router(router.router)
    app.include_router(erasure.router)
    if settings.features.export:
        app.include_router(export.router)
    if settings.features.console:
        app.include_router(console.router)
        app.mount("/console", console.static_files(), name="console")
    app.include_router(disabled_router(settings))
    # Before the tap's catch-all, so these reads are answered here.
    app.include_router(compat_router(settings.capture.prefix))
    if settings.features.notifications and settings.notification.enabled:
        app.include_router(feed.router)
    tap = _tap(settings)
    if settings.features.capture or tap:
        app.include_router(capture_router(settings.capture.prefix, settings.features.capture, tap))


def _tap(settings: Settings) -> bool:
    return settings.features.tap and settings.esp32_server.manager_api_url is not None


def server_config(app: FastAPI, settings: Settings, log_level: str | None = None) -> uvicorn.Config:
    """How uvicorn serves ``app``: address, WebSocket implementation and heartbeats."""
    heartbeat = settings.notification.heartbeat_seconds
    return uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_level=log_level or settings.server.log_level,
        # uvicorn's sans-I/O protocol, plus a direct path for the feed's frames
        ws=FeedWebSocketProtocol,
        # Protocol-level pings find dead peers; one unanswered for a whole interval is dropped.
        ws_ping_interval=heartbeat,
        ws_ping_timeout=heartbeat,
        log_config=None,  # configure_logging() owns the handlers
    )


async def prepare_store(settings: Settings) -> None:
    """Migrate the store and create the first admin once, before the workers of a serve."""
    store = Store(settings.storage.url)
    try:
        await _prepare_store(store, settings)
    finally:
        await store.close()


async def _prepare_store(store: Store, settings: Settings) -> None:
    if settings.storage.auto_migrate:
        await migrate.upgrade(store.engine)
    revision = await migrate.current_revision(store.engine)
    if revision != migrate.head_revision():
        # Serve anyway: /readyz says what is wrong and how to fix it.
        log.warning(
            "store %s is at revision %s: run 'xiaozhi-server db upgrade'", store.safe_url, revision
        )
        return
    log.info("store ready: %s", store.safe_url)
    password = await ensure_admin(store, settings.auth)
    if password is not None:
        # Shown once, on the terminal only: it is never written to the log.
        print(
            f"Created admin user '{settings.auth.admin_username}' "
            f"with password: {password}\n(shown once; set auth.admin_password to choose your own)",
            file=sys.stderr,
            flush=True,
        )
