"""Retention under ``serve``: one instance at a time runs a pass every ``retention.interval``."""

from __future__ import annotations

import asyncio
import logging

from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.privacy.retention import ADVISORY_KEY, LOCK_NAME, run_and_record
from xiaozhi_server.services import Services, data_policy
from xiaozhi_server.store.leader import Leadership

log = logging.getLogger(__name__)


async def retention_in_background(services: Services) -> None:
    """Lead (or stand by while another instance does), then purge for ever."""
    settings = services.settings.retention
    policy = data_policy(services.settings)
    leadership = Leadership(services.store, LOCK_NAME, ADVISORY_KEY)
    try:
        while True:
            if await leadership.acquire():
                await _one_pass(services, settings.batch_size, policy)
            await asyncio.sleep(settings.interval)
    finally:
        await leadership.release()


async def _one_pass(services: Services, batch_size: int, policy: DataPolicy) -> None:
    try:
        await run_and_record(services.store, policy, batch_size, "retention", "system")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the next interval tries again; serving goes on
        log.warning("retention pass failed: %s: %s", type(exc).__name__, exc)
