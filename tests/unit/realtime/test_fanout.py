"""The fan-out: events of one loop turn leave together; a client whose frame is still being
written gets what queued meanwhile in one frame; filters run before anything is encoded;
one frame, encoded once, for every client that wants the same events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from xiaozhi_server.realtime.bus import Event, EventBus
from xiaozhi_server.realtime.fanout import CLOSE_TOO_SLOW, Fanout, FeedClient
from xiaozhi_server.realtime.frames import Frame
from xiaozhi_server.realtime.protocol import Filters


class MemoryChannel:
    """A client connection kept in memory: it records what it was sent, and a frame stays
    "being written" until ``taken`` says the client read it (when ``slow``)."""

    def __init__(self, slow: bool = False) -> None:
        self.slow = slow
        self.frames: list[Frame] = []
        self.writable = True
        self.open = True
        self.closed: tuple[int, str] | None = None
        self.on_writable: Callable[[], None] = lambda: None

    def write(self, frame: Frame) -> None:
        self.frames.append(frame)
        self.writable = not self.slow

    def taken(self) -> None:
        self.writable = True
        self.on_writable()

    async def wait_writable(self) -> bool:
        return self.open

    def close(self, code: int, reason: str, grace: float) -> None:
        self.closed, self.open, self.writable = (code, reason), False, False

    def release(self) -> None:
        self.on_writable = lambda: None

    def messages(self) -> list[list[dict[str, Any]]]:
        """Each frame's messages (a batch unpacked)."""
        found = []
        for frame in self.frames:
            message = json.loads(frame.text)
            found.append(message["events"] if message["type"] == "batch" else [message])
        return found


def joined(fanout: Fanout, channel: MemoryChannel) -> FeedClient:
    client = fanout.join(channel)
    client.release()  # as after the welcome
    return client


def chat(n: int, device: str = "a0:85:e3:00:00:01", chat_type: int = 1) -> Event:
    return Event("chat_update", {"id": n, "device": device, "chat_type": chat_type})


async def turn() -> None:
    """Let the event loop run the flush it was given."""
    await asyncio.sleep(0)


def setup(queue_size: int = 100) -> tuple[EventBus, Fanout]:
    bus, fanout = EventBus(), Fanout(queue_size, grace=1.0)
    bus.attach(fanout)
    return bus, fanout


async def test_an_idle_client_gets_each_event_at_once_in_its_own_frame() -> None:
    bus, fanout = setup()
    channel = MemoryChannel()
    joined(fanout, channel)
    for n in (1, 2):
        bus.publish(chat(n))
        await turn()
    assert [[m["data"]["id"] for m in frame] for frame in channel.messages()] == [[1], [2]]


async def test_events_of_one_loop_turn_leave_in_one_frame() -> None:
    bus, fanout = setup()
    channel = MemoryChannel()
    joined(fanout, channel)
    bus.publish(chat(1))
    bus.publish(Event("device_update", {"mac": "a0:85:e3:00:00:01"}))
    await turn()
    assert [[m["type"] for m in frame] for frame in channel.messages()] == [
        ["chat_update", "device_update"]
    ]


async def test_events_queued_while_a_frame_is_being_written_leave_together() -> None:
    bus, fanout = setup()
    channel = MemoryChannel(slow=True)
    joined(fanout, channel)
    for n in (1, 2, 3, 4):
        bus.publish(chat(n))
        await turn()
    assert len(channel.frames) == 1  # the first frame is still on its way
    channel.taken()
    assert [[m["data"]["id"] for m in frame] for frame in channel.messages()] == [[1], [2, 3, 4]]


async def test_clients_that_want_the_same_events_get_the_same_bytes_encoded_once() -> None:
    bus, fanout = setup()
    everything, chats = MemoryChannel(), MemoryChannel()
    joined(fanout, everything)
    fanout.subscribe(joined(fanout, chats), Filters(types=("chat_update",)))
    bus.publish(chat(1))
    await turn()
    assert everything.frames[0].wire is chats.frames[0].wire


async def test_filters_run_before_anything_is_encoded() -> None:
    bus, fanout = setup()
    channel = MemoryChannel()
    fanout.subscribe(joined(fanout, channel), Filters(device="a0:85:e3:00:00:01", chat_types=(2,)))
    unwanted = [chat(1, chat_type=1), chat(2, device="a0:85:e3:00:00:02", chat_type=2)]
    wanted = chat(3, chat_type=2)
    for event in [*unwanted, wanted]:
        bus.publish(event)
    await turn()
    assert [[m["data"]["id"] for m in frame] for frame in channel.messages()] == [[3]]
    assert all(not event._text for event in unwanted)


async def test_a_client_whose_backlog_overflows_is_closed_and_the_others_go_on() -> None:
    bus, fanout = setup(queue_size=3)
    stalled, healthy = MemoryChannel(slow=True), MemoryChannel()
    stalled_client = joined(fanout, stalled)
    joined(fanout, healthy)
    for n in range(1, 7):
        bus.publish(chat(n))
        await turn()
    assert stalled.closed is not None
    assert stalled.closed[0] == CLOSE_TOO_SLOW
    assert stalled_client.backlog == []  # nothing kept for it
    assert [frame[0]["data"]["id"] for frame in healthy.messages()] == [1, 2, 3, 4, 5, 6]


async def test_after_a_replay_live_events_already_replayed_are_not_sent_again() -> None:
    bus, fanout = setup()
    channel = MemoryChannel()
    client = joined(fanout, channel)
    client.hold()
    bus.publish(chat(5))  # committed while the replay runs: it is in the replay too
    bus.publish(chat(6))
    await turn()
    assert await client.write_now([chat(4), chat(5)])
    client.release(replayed_upto=5)
    bus.publish(chat(5))  # a late copy of a replayed one (another instance's relay)
    await turn()
    sent = [m["data"]["id"] for frame in channel.messages() for m in frame]
    assert sent == [4, 5, 6]


async def test_an_unsubscribed_client_gets_nothing_until_it_subscribes_again() -> None:
    bus, fanout = setup()
    channel = MemoryChannel()
    client = joined(fanout, channel)
    fanout.subscribe(client, None)
    bus.publish(chat(1))
    await turn()
    fanout.subscribe(client, Filters())
    bus.publish(chat(2))
    await turn()
    assert [m["data"]["id"] for frame in channel.messages() for m in frame] == [2]


def test_a_catch_up_reaches_every_client_also_those_with_filters_but_not_the_unsubscribed() -> None:
    fanout = Fanout(queue_size=10, grace=1.0)
    asked: dict[str, list[int]] = {"all": [], "one device": [], "unsubscribed": []}
    clients = {name: joined(fanout, MemoryChannel()) for name in asked}
    for name, client in clients.items():
        client.catch_up = asked[name].append
    fanout.subscribe(clients["one device"], Filters(device="a0:85:e3:00:00:01"))
    fanout.subscribe(clients["unsubscribed"], None)
    fanout.catch_up(41)
    assert asked == {"all": [41], "one device": [41], "unsubscribed": []}


def test_a_client_that_left_is_not_caught_up() -> None:
    fanout = Fanout(queue_size=10, grace=1.0)
    client = joined(fanout, MemoryChannel())
    asked: list[int] = []
    client.catch_up = asked.append
    fanout.leave(client)
    fanout.catch_up(41)
    assert asked == []
