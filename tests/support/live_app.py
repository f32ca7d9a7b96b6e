"""The real app served by uvicorn on a real socket, in a thread of the test process."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn

from tests.support.seed import seed
from tests.support.servers import free_port
from xiaozhi_server.app import BackgroundTask, create_app, server_config
from xiaozhi_server.config import Settings


@dataclass(frozen=True)
class LiveApp:
    """Where a running app answers."""

    base_url: str
    settings: Settings


@contextmanager
def serving(
    settings: Settings,
    background: tuple[BackgroundTask, ...] = (),
    adjust: Callable[[uvicorn.Config], None] | None = None,
) -> Iterator[LiveApp]:
    """Serve ``settings`` on a free port until the block ends (``adjust`` may change how
    uvicorn serves it)."""
    settings.server.host, settings.server.port = "127.0.0.1", free_port()
    config = server_config(create_app(settings, background), settings, "warning")
    if adjust is not None:
        adjust(config)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield LiveApp(f"http://127.0.0.1:{settings.server.port}", settings)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


SEEDED_TOKEN = "test-token"


@contextmanager
def serving_seeded(url: str, auth: dict[str, Any] | None = None) -> Iterator[LiveApp]:
    """The app on the store at ``url`` after seeding it, with the API token SEEDED_TOKEN,
    the admin password ``pw`` and any other ``auth`` settings."""
    asyncio.run(seed(url))
    auth_settings = {"api_tokens": [SEEDED_TOKEN], "admin_password": "pw"} | (auth or {})
    settings = Settings.model_validate({"storage": {"url": url}, "auth": auth_settings})
    with serving(settings) as app:
        yield app
