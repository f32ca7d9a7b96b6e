"""The feed's fan-out: every event published in this process, to every feed client here.

Events published during one turn of the event loop are flushed together on the next turn.
Clients are grouped by their filters, so each group's filters run once per event, before
anything is serialised, and each group's frame is built once and written, as the same
bytes, to every client of the group that is ready for it. A client whose previous frame is
still being written (or that is replaying history) keeps the events in its own backlog,
bounded by ``notification.queue_size``; they leave in one frame as soon as it can take
more. A client whose backlog overflows is closed with ``4408`` and loses nothing it cannot
get back with ``resume``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence

from xiaozhi_server.ops.metrics import EVENTS_DROPPED, FEED_FANOUT_CPU
from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.realtime.channel import Channel
from xiaozhi_server.realtime.frames import Frame
from xiaozhi_server.realtime.protocol import Filters

log = logging.getLogger(__name__)

# How a client sees events (masked or as stored, realtime/masking.py); clients are grouped
# by it too, so each view of an event is built once.
EventView = Callable[[Event], Event]
GroupKey = tuple[Filters, EventView]
CLOSE_TOO_SLOW = 4408
CLOSE_INTERNAL = 1011
# Store ids of chat updates a client was sent and remembers, so a resume sends none twice.
SENT_MEMORY = 10_000


def _as_stored(event: Event) -> Event:
    return event


class FeedClient:
    """One connection's place in the fan-out: its filters, its backlog and its channel."""

    def __init__(
        self, fanout: Fanout, channel: Channel, limit: int, view: EventView = _as_stored
    ) -> None:
        self._fanout = fanout
        self.channel = channel
        self.limit = limit
        self.view = view
        self.filters = Filters()
        self.active = True
        self.backlog: list[Event] = []
        self.held = True  # until the welcome has been sent
        self.closed_reason: str | None = None
        self.closed_code: int | None = None
        # Chat updates with ids up to here may have been replayed: check those against _seen.
        self.replayed_upto = 0
        self._sent: deque[tuple[int, ...]] = deque()
        self._sent_count = 0
        self._seen: set[int] | None = None
        # Replays stored messages after an id to this client (set by its feed session).
        self.catch_up: Callable[[int], None] | None = None
        channel.on_writable = self.drain

    @property
    def group(self) -> GroupKey:
        """Clients with the same filters and view share frames."""
        return self.filters, self.view

    def take(self, events: Sequence[Event], frame: Frame) -> None:
        """Events of this client's group, and the group's frame that holds exactly them."""
        # The common case first, and cheap: it runs for every client on every event.
        if (
            not self.backlog
            and not self.held
            and self.channel.writable
            and frame.lowest_chat_id > self.replayed_upto
        ):
            self.channel.write(frame)
            if frame.chat_ids:
                self._remember(frame.chat_ids)
            return
        self.backlog.extend(events)
        self._check_backlog()

    def send(self, event: Event) -> None:
        """A reply or notice for this client alone, in order with its events."""
        self.backlog.append(event)
        self._check_backlog()

    def drain(self) -> None:
        """Send the whole backlog in one frame, if the channel can take it now."""
        if self.held or not self.backlog or not self.channel.writable:
            return
        events, self.backlog = self.backlog, []
        fresh = [event for event in events if self._fresh(event)]
        if fresh:
            self._write(Frame(fresh))

    def fail(self, reason: str, code: int = CLOSE_TOO_SLOW) -> None:
        """Close the connection with ``code`` (``4408``: the backlog overflowed)."""
        if self.closed_reason is not None:
            return
        self.closed_reason, self.closed_code = reason, code
        EVENTS_DROPPED.inc(len(self.backlog))
        self.backlog = []
        self._fanout.leave(self)
        self.channel.close(code, reason, self._fanout.grace)

    def hold(self) -> None:
        """Keep live events in the backlog (while history is replayed)."""
        self.held = True
        if self._seen is None:
            self._seen = {message_id for ids in self._sent for message_id in ids}

    def was_sent(self, message_id: int) -> bool:
        """True if this connection already sent the chat update ``message_id`` (recently)."""
        return self._seen is not None and message_id in self._seen

    async def write_now(self, events: Sequence[Event]) -> bool:
        """Send ``events`` ahead of the backlog once the channel is free; False if closed."""
        if not await self.channel.wait_writable() or self.closed_reason is not None:
            return False
        self._write(Frame(events))
        return True

    def release(self, replayed_upto: int = 0) -> None:
        """Let live events go again, after history up to ``replayed_upto`` was replayed."""
        self.replayed_upto = max(self.replayed_upto, replayed_upto)
        self.held = False
        self.drain()

    def _check_backlog(self) -> None:
        if len(self.backlog) > self.limit:
            self.fail(f"too slow: more than {self.limit} events waiting")
        else:
            self.drain()

    def _fresh(self, event: Event) -> bool:
        if event.type != "chat_update" or event.data["id"] > self.replayed_upto:
            return True
        return not self.was_sent(event.data["id"])

    def _write(self, frame: Frame) -> None:
        self.channel.write(frame)
        if frame.chat_ids:
            self._remember(frame.chat_ids)

    def _remember(self, ids: tuple[int, ...]) -> None:
        self._sent.append(ids)
        self._sent_count += len(ids)
        if self._seen is not None:
            self._seen.update(ids)
        while self._sent_count > SENT_MEMORY:
            forgotten = self._sent.popleft()
            self._sent_count -= len(forgotten)
            if self._seen is not None:
                self._seen.difference_update(forgotten)


class Fanout:
    """Every feed client of this process, grouped by filters; a bus sink."""

    def __init__(self, queue_size: int, grace: float) -> None:
        self.queue_size = queue_size
        self.grace = grace
        self._groups: dict[GroupKey, set[FeedClient]] = {}
        self._members: set[FeedClient] = set()  # also those subscribed to nothing
        self._incoming: list[Event] = []
        self._flush_scheduled = False

    def join(self, channel: Channel, view: EventView = _as_stored) -> FeedClient:
        """A new client that wants every event (held until its welcome is sent), as ``view``
        shows them."""
        client = FeedClient(self, channel, self.queue_size, view)
        self._groups.setdefault(client.group, set()).add(client)
        self._members.add(client)
        return client

    def subscribe(self, client: FeedClient, filters: Filters | None) -> None:
        """Give ``client`` only events matching ``filters`` from now on (None: nothing)."""
        self._remove(client)
        if filters is not None:
            client.filters = filters
        client.active = filters is not None
        if client.active and client.closed_reason is None:
            self._groups.setdefault(client.group, set()).add(client)

    def leave(self, client: FeedClient) -> None:
        """Forget ``client``."""
        self._remove(client)
        self._members.discard(client)
        client.active = False

    def catch_up(self, after_id: int) -> None:
        """Events after message ``after_id`` may not have reached this process (events
        between instances were lost for a while): every client gets the stored messages
        after it that it was not sent."""
        for client in list(self._members):
            # one that unsubscribed wants nothing, not even what it missed
            if client.active and client.catch_up is not None:
                client.catch_up(after_id)

    @property
    def clients(self) -> int:
        """How many clients receive events."""
        return sum(len(group) for group in self._groups.values())

    def offer(self, event: Event) -> bool:
        """Take ``event``; it leaves with whatever else arrives before the loop turns."""
        if not self._groups:
            return True
        self._incoming.append(event)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)
        return True

    def _flush(self) -> None:
        started = time.thread_time()
        self._flush_scheduled = False
        events, self._incoming = self._incoming, []
        frames: dict[tuple[int, ...], Frame] = {}
        for (filters, view), clients in list(self._groups.items()):
            wanted = [view(event) for event in events if filters.matches(event)]
            if not wanted:
                continue
            # Different filters often pick the same events: those groups share a frame.
            key = tuple(map(id, wanted))
            frame = frames.get(key)
            if frame is None:
                frame = frames[key] = Frame(wanted)
            for client in list(clients):
                try:
                    client.take(wanted, frame)
                except Exception:  # one client's failure must not cost the others the event
                    log.exception("feed client failed; closing it")
                    client.fail("internal error", CLOSE_INTERNAL)
        FEED_FANOUT_CPU.inc(time.thread_time() - started)

    def _remove(self, client: FeedClient) -> None:
        group = self._groups.get(client.group)
        if group is None:
            return
        group.discard(client)
        if not group:
            del self._groups[client.group]
