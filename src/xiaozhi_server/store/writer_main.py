"""The SQLite writer process (``writer_process.py`` starts it): ``python -m`` this module
with the file descriptor of its socket.

It reads the store's URL, then units of work, one at a time: each runs in one
transaction, and the answer goes back only after the commit. A unit sent after another
runs only if that one committed. End-of-file on the socket (the parent exited, however it
exited) ends the process.
"""

from __future__ import annotations

import collections
import contextlib
import pickle
import signal
import socket
import sys
import traceback
from typing import Any

from sqlalchemy import Connection

from xiaozhi_server.gc_pauses import BATCH_YOUNG_THRESHOLD, freeze_start_up
from xiaozhi_server.store.sqlite_writer import writer_engine
from xiaozhi_server.store.writer_frames import LENGTH, frame
from xiaozhi_server.store.writer_process import AfterFailed

# A unit names the one it follows right after sending it: recent failures are enough.
_FAILURES_KEPT = 1024


def main(fd: int) -> None:
    """Serve units of work from the socket ``fd`` until it closes."""
    # Ctrl-C reaches the whole process group: the parent decides when this one stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = socket.socket(fileno=fd)
    url = _receive(channel)
    if not isinstance(url, str):
        return
    engine = writer_engine(url)
    connection = engine.connect()  # one for good: no pool checkout and reset per transaction
    freeze_start_up(BATCH_YOUNG_THRESHOLD)
    failed: collections.deque[int] = collections.deque(maxlen=_FAILURES_KEPT)
    try:
        while (request := _receive(channel)) is not None:
            number, requires, work = request
            if requires is not None and requires in failed:
                ok, value = False, AfterFailed("the unit of work it was sent after failed")
            else:
                ok, value = _run(connection, work)
            if not ok:
                failed.append(number)
            try:
                data = frame((number, ok, value))
            except Exception as exc:  # committed, but the result cannot be sent back
                data = frame((number, False, _picklable(exc)))
            _send(channel, data)
    finally:
        connection.close()
        engine.dispose()


def _run(connection: Connection, work: Any) -> tuple[bool, Any]:
    try:
        with connection.begin():
            return True, work(connection)
    except Exception as exc:
        return False, _picklable(exc)


def _picklable(exc: Exception) -> Exception:
    """``exc`` with this process's traceback as a note, or a RuntimeError saying the same
    if ``exc`` itself cannot cross to the parent."""
    note = "in the SQLite writer process:\n" + "".join(traceback.format_exception(exc))
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:
        exc = RuntimeError(f"{type(exc).__name__}: {exc}")
    exc.add_note(note)
    return exc


def _receive(channel: socket.socket) -> Any:
    header = _exactly(channel, LENGTH.size)
    if header is None:
        return None
    body = _exactly(channel, LENGTH.unpack(header)[0])
    return None if body is None else pickle.loads(body)


def _exactly(channel: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = channel.recv(size - len(chunks))
        if not chunk:
            return None
        chunks.extend(chunk)
    return bytes(chunks)


def _send(channel: socket.socket, data: bytes) -> None:
    with contextlib.suppress(OSError):  # the parent is gone; the next read ends this process
        channel.sendall(data)


if __name__ == "__main__":
    main(int(sys.argv[1]))
