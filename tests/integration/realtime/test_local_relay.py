"""The relay between the workers of one serve, over a real Unix domain socket: what one
worker publishes reaches every other worker's bus, in order, and never comes back to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from xiaozhi_server.realtime.bus import Event, EventBus
from xiaozhi_server.realtime.local_relay import LocalRelay, RelayHub


class Worker:
    """A worker's bus with its relay, and the events that reached that bus."""

    def __init__(self, path: str) -> None:
        self.bus = EventBus()
        self.relay = LocalRelay(path, self.bus)
        self.subscription = self.bus.subscribe()
        self.received: list[str] = []
        self.task = asyncio.create_task(self.relay.run())

    async def receive(self) -> str:
        """The type of the next event that reached this worker's bus."""
        event = await asyncio.wait_for(anext(aiter(self.subscription)), 10)
        self.received.append(event.type)
        return event.type

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.relay.close()


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[list[Worker]]:
    hub = RelayHub(str(tmp_path / "relay.sock"))
    await hub.start()
    started = [Worker(hub.path) for _ in range(3)]
    for worker in started:
        await asyncio.wait_for(worker.relay.connected.wait(), 10)
    yield started
    for worker in started:
        await worker.stop()
    await hub.close()


async def test_each_worker_sees_each_event_once_in_order(workers: list[Worker]) -> None:
    first, second, third = workers
    first.bus.publish(Event("chat_update", {"id": 1, "content": "经由中继"}))
    for worker in workers:
        await worker.receive()  # on the first worker's bus at once, on the others relayed
    second.bus.publish(Event("device_update", {"mac": "a0:85:e3:00:00:01"}))
    for worker in workers:
        await worker.receive()
    # Had the relay sent the first event back to where it came from, the first worker
    # would have seen it twice before the second event.
    for worker in (first, second, third):
        assert worker.received == ["chat_update", "device_update"]
