"""WebSocket subscribers for the delivery benchmark, in processes of their own.

Each process opens its share of connections and notes, for every ``bench-<n>`` turn, the
moment its bytes arrived (``time.perf_counter``: CLOCK_MONOTONIC on Linux, one clock for
every process of the machine, so the main process can subtract its send times). A
connection is an ``asyncio.Protocol`` around the websockets library's sans-I/O client: it
parses real frames (one message or a ``batch``) and answers pings, with little overhead of
its own so that the server, not the subscribers, is what gets measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import re
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.context import SpawnProcess
from typing import cast
from urllib.parse import urlsplit

import uvloop
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

MARK = re.compile(rb'"content": "bench-(\d+)"')
# The event's own "timestamp" (when the server published it) follows its content.
STAMPED = re.compile(rb'"content": "bench-(\d+)".*?"timestamp": "([^"]+)"')
WORKER = re.compile(rb'"worker": (\d+)')
_OPEN_AT_ONCE = 50


@dataclass(frozen=True, slots=True)
class Plan:
    """What one subscriber process does."""

    url: str
    connections: int
    events: int  # turns bench-0 .. bench-<events - 1>
    command: str | None  # sent once connected (a subscribe), or None
    ready_mark: bytes  # in the frame that says the connection is set up


@dataclass(frozen=True, slots=True)
class Arrivals:
    """What one connection received: when each turn arrived (perf_counter, 0 = never),
    and for the probe when each was published (epoch seconds)."""

    worker: int
    arrived: bytes
    published: bytes | None

    @classmethod
    def of(cls, subscriber: Subscriber) -> Arrivals:
        """The arrivals ``subscriber`` noted."""
        published = subscriber.published
        return cls(
            subscriber.worker,
            subscriber.arrived.tobytes(),
            published.tobytes() if published is not None else None,
        )


class Subscriber(asyncio.Protocol):
    """One WebSocket connection that records when each turn arrived."""

    def __init__(
        self,
        plan: Plan,
        on_ready: Callable[[], None],
        on_done: Callable[[], None],
        probe: bool = False,
    ):
        self._plan = plan
        self._websocket = ClientProtocol(parse_uri(plan.url))
        self._on_ready, self._on_done = on_ready, on_done
        self._transport: asyncio.Transport | None = None
        self.ready = False
        self.worker = -1
        self.arrived = array("d", bytes(8 * plan.events))
        self.count = 0
        # The probe also notes when the server published each event (wall clock): arrival
        # minus publication is the fan-out's share of the latency.
        self.published = array("d", bytes(8 * plan.events)) if probe else None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self._websocket.send_request(self._websocket.connect())
        self._flush()

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter()
        self._websocket.receive_data(data)
        for event in self._websocket.events_received():
            if isinstance(event, Response) and self._plan.command is not None:
                self._websocket.send_text(self._plan.command.encode())
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self._text(bytes(event.data), now)
        self._flush()

    def _text(self, data: bytes, now: float) -> None:
        if not self.ready:
            if (worker := WORKER.search(data)) is not None:
                self.worker = int(worker[1])
            if self._plan.ready_mark in data:
                self.ready = True
                self._on_ready()
        if self.published is not None:
            for match in STAMPED.finditer(data):
                moment = datetime.fromisoformat(match[2].decode()).timestamp()
                self.published[int(match[1])] = moment
        arrived = self.arrived
        for match in MARK.finditer(data):
            n = int(match[1])
            if n < len(arrived) and not arrived[n]:
                arrived[n] = now
                self.count += 1
                if self.count == len(arrived):
                    self._on_done()

    def _flush(self) -> None:
        output = self._websocket.data_to_send()
        if output and self._transport is not None and not self._transport.is_closing():
            self._transport.write(b"".join(output))


def run(pipe: Connection, plan: Plan) -> None:
    """A subscriber process: connect, say "ready", collect until told to stop or all is in,
    then send back what arrived when (one array of times per connection)."""
    uvloop.install()
    asyncio.run(_run(pipe, plan))


async def _run(pipe: Connection, plan: Plan) -> None:
    loop = asyncio.get_running_loop()
    ready, done = asyncio.Event(), asyncio.Event()
    counts = {"ready": 0, "done": 0}

    def count(name: str, event: asyncio.Event) -> Callable[[], None]:
        def seen() -> None:
            counts[name] += 1
            if counts[name] == plan.connections:
                event.set()

        return seen

    parts = urlsplit(plan.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    subscribers: list[Subscriber] = []
    for first in range(0, plan.connections, _OPEN_AT_ONCE):
        batch = [
            Subscriber(plan, count("ready", ready), count("done", done), probe=number == 0)
            for number in range(first, min(first + _OPEN_AT_ONCE, plan.connections))
        ]
        await asyncio.gather(*(loop.create_connection(_same(s), host, port) for s in batch))
        subscribers += batch
    await ready.wait()
    pipe.send("ready")
    stop = asyncio.Event()
    loop.add_reader(pipe.fileno(), stop.set)
    waiting = [asyncio.ensure_future(e.wait()) for e in (done, stop)]
    await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    if done.is_set():
        pipe.send("done")
        await stop.wait()
    loop.remove_reader(pipe.fileno())
    os.set_blocking(pipe.fileno(), True)  # the loop made it non-blocking; results are big
    with contextlib.suppress(EOFError):
        pipe.recv()
    pipe.send([Arrivals.of(s) for s in subscribers])


def _same(subscriber: Subscriber) -> Callable[[], Subscriber]:
    return lambda: subscriber


def start(plan: Plan) -> tuple[SpawnProcess, Connection]:
    """One subscriber process for ``plan``; talk to it over the returned pipe."""
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    process = context.Process(target=run, args=(theirs, plan), name="feed-subscribers", daemon=True)
    process.start()
    return process, ours
