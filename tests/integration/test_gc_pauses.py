"""The app keeps what its start-up built out of the garbage collector's full passes."""

from __future__ import annotations

import gc

import httpx

from tests.support.live_app import serving
from xiaozhi_server.config import Settings


def test_start_up_is_frozen_while_the_app_serves_and_thawed_when_it_stops(
    settings: Settings,
) -> None:
    gc.unfreeze()
    with serving(settings) as app:
        assert httpx.get(f"{app.base_url}/healthz").status_code == 200
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
