"""``serve`` with ``server.workers: N``: N processes answering on one port, so the feed's
fan-out (and everything else) can use every core.

This process, the supervisor, binds the listening socket, migrates the store once, runs
the relay that carries events between the workers (unless Redis carries them), starts the
workers, starts again any that dies, and stops them all on SIGINT or SIGTERM. Each worker
is a whole hub (``create_app``) serving on the shared socket; the kernel hands each new
connection to one of them. Only the first worker runs the background jobs (upstream sync,
the demo's devices): SQLite has no lock to elect one syncer, and one is enough.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Sequence
from multiprocessing.connection import wait as wait_for_any
from multiprocessing.context import SpawnProcess
from pathlib import Path
from typing import Any

import uvicorn

from xiaozhi_server.app import BackgroundTask, create_app, prepare_store, server_config
from xiaozhi_server.config import Settings
from xiaozhi_server.ops.logs import configure_logging
from xiaozhi_server.realtime.local_relay import RelayHub
from xiaozhi_server.realtime.registry import SharedPlaces, WorkerLink

log = logging.getLogger(__name__)

_CHECK_SECONDS = 0.5
_STOP_SECONDS = 30.0
# A worker that dies this soon after starting, this many times in a row, will not start.
_EARLY_DEATH_SECONDS = 10.0
_EARLY_DEATHS = 3


def serve_workers(settings: Settings, background: Sequence[BackgroundTask]) -> bool:
    """Serve with ``settings.server.workers`` processes until a signal; False on failure."""
    listener = _bind(settings.server.host, settings.server.port)
    try:
        asyncio.run(prepare_store(settings))
        return asyncio.run(Supervisor(settings, background, listener).run())
    finally:
        listener.close()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.set_inheritable(True)
    return listener


class Supervisor:
    """Starts, watches and stops the worker processes."""

    def __init__(
        self, settings: Settings, background: Sequence[BackgroundTask], listener: socket.socket
    ) -> None:
        self._settings = settings
        self._background = tuple(background)
        self._listener = listener
        self._context = multiprocessing.get_context("spawn")
        self._counts: Any = self._context.Array("i", settings.server.workers)
        self._processes: list[SpawnProcess] = []
        self._started: list[float] = []
        self._early_deaths = 0

    async def run(self) -> bool:
        """Until SIGINT/SIGTERM (True) or a worker that cannot start (False)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        with tempfile.TemporaryDirectory(prefix="xiaozhi-server-") as folder:
            hub = await self._relay(folder)
            try:
                for index in range(self._settings.server.workers):
                    self._processes.append(self._start(index, hub))
                    self._started.append(time.monotonic())
                healthy = await self._watch(stop, hub)
            finally:
                await asyncio.to_thread(self._stop_all)
                if hub is not None:
                    await hub.close()
        return healthy

    async def _relay(self, folder: str) -> RelayHub | None:
        notification = self._settings.notification
        if notification.redis_url or not notification.enabled:
            return None  # every worker has its own Redis bridge
        hub = RelayHub(str(Path(folder) / "relay.sock"))
        await hub.start()
        return hub

    def _start(self, index: int, hub: RelayHub | None) -> SpawnProcess:
        link = WorkerLink(index, hub.path if hub else None, None)
        process = self._context.Process(
            target=_worker_main,
            name=f"xiaozhi-server-worker-{index}",
            args=(
                self._settings,
                link,
                self._counts,
                self._listener,
                self._background if index == 0 else (),
            ),
        )
        process.start()
        return process

    async def _watch(self, stop: asyncio.Event, hub: RelayHub | None) -> bool:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), _CHECK_SECONDS)
            for index, process in enumerate(self._processes):
                if stop.is_set() or process.is_alive():
                    continue
                if not self._may_restart(index, process):
                    return False
                self._counts[index] = 0  # its clients are gone with it
                self._processes[index] = self._start(index, hub)
                self._started[index] = time.monotonic()
        return True

    def _may_restart(self, index: int, process: SpawnProcess) -> bool:
        early = time.monotonic() - self._started[index] < _EARLY_DEATH_SECONDS
        self._early_deaths = self._early_deaths + 1 if early else 0
        log.error("worker %d exited with code %s", index, process.exitcode)
        if self._early_deaths >= _EARLY_DEATHS:
            log.error("workers keep failing as they start: stopping")
            return False
        return True

    def _stop_all(self) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + _STOP_SECONDS
        for process in self._processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()


def _worker_main(
    settings: Settings,
    link: WorkerLink,
    counts: Any,
    listener: socket.socket,
    background: Sequence[BackgroundTask],
) -> None:
    """One worker: a whole hub serving on the shared socket until told to stop."""
    configure_logging(settings.server.log_level, settings.server.log_format)
    settings.storage.auto_migrate = False  # the supervisor migrated, once
    worker = WorkerLink(link.index, link.relay_path, SharedPlaces(counts, link.index))
    server = uvicorn.Server(server_config(create_app(settings, background, worker), settings))
    _stop_with_supervisor(server)
    server.run(sockets=[listener])


def _stop_with_supervisor(server: uvicorn.Server) -> None:
    """Stop gracefully if the supervisor dies without stopping this worker (SIGKILL)."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait_for_any([parent.sentinel])
        server.should_exit = True

    threading.Thread(target=watch, name="supervisor-watch", daemon=True).start()
