"""SQLite's one writer in a process of its own: whole units of work in, results out.

With the writer in a thread, the event loop (HTTP, parsing, events) and the writer's Python
(building rows, running statements) took turns on one GIL: together never more than one
core. Here a child process owns the store's write connection. The parent sends a whole
unit of work (a picklable callable taking a SQLAlchemy ``Connection``: a module-level
function with its arguments, never a lambda); the child runs it in one transaction,
commits, and only then answers. An answer therefore means committed: a caller that
acknowledges after it (the report endpoint) never acknowledges a write that a kill could
undo.

The child lives as long as its socket: when the parent exits, even by ``SIGKILL``, the
child reads end-of-file, finishes the transaction it is in, and exits. When the child
dies, every unit of work in flight fails (never acknowledged) and the next one starts a
new child.

A unit of work may be sent *after* another one still in flight (``submit(work, after=…)``):
the child runs it only if that one committed, and fails it with ``AfterFailed`` otherwise.
A chain of batches that each carry their source's checkpoint can so be queued back to back
(the child never waits for the next batch to cross) and still never commit a checkpoint
past a batch that was not stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import pickle
import socket
import subprocess
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection

from xiaozhi_server.store.writer_frames import LENGTH, frame

log = logging.getLogger(__name__)

T = TypeVar("T")
_STOP_SECONDS = 30.0


class WriterGone(RuntimeError):
    """The writer process ended before it answered; the unit of work was not committed."""


class AfterFailed(RuntimeError):
    """The unit of work it was sent after did not commit, so it was not run."""


class CannotCross(TypeError):
    """A unit of work that cannot be pickled (a lambda, a closure): it cannot be sent."""


class WriterProcess:
    """Runs write transactions in a child process that owns the SQLite write connection."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._process: asyncio.subprocess.Process | None = None
        self._stream: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._number_of: dict[asyncio.Future[Any], int] = {}  # what ``after`` can name
        self._numbers = itertools.count(1)
        self._starting: asyncio.Lock | None = None
        self._closing = False
        self._reaper: asyncio.Task[None] | None = None  # waits for a child that ended

    async def start(self) -> None:
        """Start the child now (otherwise the first unit of work starts it)."""
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            if self._stream is None:
                await self._spawn()

    async def run(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in one transaction in the child; return its result once committed."""
        return await (await self.submit(work))

    async def submit(
        self, work: Callable[[Connection], T], after: asyncio.Future[Any] | None = None
    ) -> asyncio.Future[T]:
        """Send ``work`` and return once the child has all of it (a large batch takes a
        while to cross, and the caller's next CPU work must not hold it up); the future
        is its result, once committed. With ``after`` (a future this method returned),
        ``work`` runs only if that one commits; otherwise it fails with ``AfterFailed``."""
        if after is not None and after not in self._number_of:
            await asyncio.wait([after])  # not this child's (it ran in a thread): its outcome
        if self._stream is None:
            await self.start()
        stream = self._stream
        if stream is None:
            raise WriterGone("the store's writer process did not start")
        # Decided after the last await: had the child that holds ``after`` ended meanwhile,
        # ``after`` has failed by now, and a new child must not run this one.
        try:
            requires = self._requirement(after)
        except AfterFailed as exc:
            failed: asyncio.Future[T] = asyncio.get_running_loop().create_future()
            failed.set_exception(exc)
            return failed
        number = next(self._numbers)
        try:
            data = frame((number, requires, work))
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise CannotCross(f"{work!r} cannot be sent to the writer process: {exc}") from exc
        # Registered before anything is awaited: if the child ends from here on, the reply
        # reader fails this future (nothing can hang waiting for an answer).
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending[number] = future
        self._number_of[future] = number
        future.add_done_callback(self._forget)
        stream.write(data)
        with contextlib.suppress(ConnectionError):
            await stream.drain()  # a broken pipe shows as WriterGone on the future
        return future

    def _requirement(self, after: asyncio.Future[Any] | None) -> int | None:
        """The number the child checks before it runs a unit sent ``after`` another (None:
        nothing left to check). Raises AfterFailed if ``after`` has failed."""
        if after is None:
            return None
        if not after.done():
            return self._number_of[after]
        if _failed(after):
            raise AfterFailed("the unit of work it was sent after did not commit")
        return None

    def _forget(self, future: asyncio.Future[Any]) -> None:
        number = self._number_of.pop(future, None)
        if number is not None:
            self._pending.pop(number, None)

    async def close(self) -> None:
        """Let the child finish what it was sent, then wait for it to exit."""
        stream, process, reader = self._stream, self._process, self._reader_task
        self._closing, self._stream = True, None
        if stream is not None:
            stream.close()
            with contextlib.suppress(OSError):
                await stream.wait_closed()
        if reader is not None:
            await asyncio.gather(reader, return_exceptions=True)
        if process is not None:
            await _wait_or_kill(process)

    async def _spawn(self) -> None:
        parent_end, child_end = socket.socketpair()
        try:
            self._process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "xiaozhi_server.store.writer_main",
                str(child_end.fileno()),
                pass_fds=[child_end.fileno()],
                stdin=subprocess.DEVNULL,
            )
        finally:
            child_end.close()
        reader, self._stream = await asyncio.open_connection(sock=parent_end)
        # drain() returns only once everything is handed to the kernel (see submit)
        self._stream.transport.set_write_buffer_limits(high=0)
        self._stream.write(frame(self._url))
        self._reader_task = asyncio.create_task(self._read(reader), name="sqlite-writer-replies")

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                number, ok, value = pickle.loads(await read_frame(reader))
                future = self._pending.get(number)
                if future is None or future.done():
                    continue  # its caller was cancelled
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except Exception:  # an answer that cannot be read: start over with a new child
            log.exception("unreadable answer from the SQLite writer process")
        finally:
            self._gone()

    def _gone(self) -> None:
        """The child's socket closed: fail what is in flight; the next write starts anew."""
        for future in self._pending.values():
            if not future.done():
                future.set_exception(WriterGone("the store's writer process ended"))
        if self._closing or self._stream is None:
            return
        log.error("the SQLite writer process ended; a new one starts with the next write")
        self._stream.close()
        self._stream = None
        if self._process is not None:
            process, self._process = self._process, None
            self._reaper = asyncio.create_task(_wait_or_kill(process))


async def succeeded(after: asyncio.Future[Any]) -> None:
    """Wait for ``after``; raise AfterFailed unless it succeeded."""
    await asyncio.wait([after])
    if _failed(after):
        raise AfterFailed("the unit of work it was sent after did not commit")


def _failed(done: asyncio.Future[Any]) -> bool:
    return done.cancelled() or done.exception() is not None


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """The next frame's pickled bytes (IncompleteReadError at end-of-file)."""
    (length,) = LENGTH.unpack(await reader.readexactly(LENGTH.size))
    return await reader.readexactly(length)


async def _wait_or_kill(process: asyncio.subprocess.Process) -> None:
    try:
        await asyncio.wait_for(process.wait(), _STOP_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
