"""The SQLite writer process: answers after the commit, fails what it cannot finish, and
never outlives the process that started it."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, text

from xiaozhi_server.gc_pauses import BATCH_YOUNG_THRESHOLD
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.writer_process import AfterFailed, WriterGone


def record(connection: Connection, note: str) -> int:
    """A unit of work (module level: it crosses to the writer process by name)."""
    connection.exec_driver_sql(
        "INSERT INTO audit_log (at, actor, actor_kind, action, detail)"
        " VALUES ('2026-12-01 00:00:00.000', 'test', 'system', 'note', ?)",
        (note,),
    )
    return os.getpid()


def record_then_fail(connection: Connection, note: str) -> None:
    record(connection, note)
    raise ValueError(f"refused {note}")


def record_slowly(connection: Connection, note: str, seconds: float = 60) -> None:
    record(connection, note)
    time.sleep(seconds)


def collector_state(connection: Connection) -> tuple[int, int]:
    """A unit of work: how many objects the writer's collector skips, and after how many
    more allocations than frees it collects the youngest ones."""
    return gc.get_freeze_count(), gc.get_threshold()[0]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = Store(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}", writer_process=True)
    await migrate.upgrade(opened.engine)
    yield opened
    await opened.close()


@pytest.fixture(params=["process", "thread"])
async def either_writer(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The writer process, or the writer thread of a store without one: a unit of work sent
    after another behaves the same with both."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    opened = Store(url, writer_process=request.param == "process")
    await migrate.upgrade(opened.engine)
    yield opened
    await opened.close()


async def notes(store: Store) -> list[str]:
    async with store.read() as connection:
        rows = await connection.execute(text("SELECT detail FROM audit_log ORDER BY id"))
        return [row[0] for row in rows]


async def test_a_write_runs_in_another_process_and_is_committed_when_it_returns(
    store: Store,
) -> None:
    writer_pid = await store.run_write(functools.partial(record, note="one"))
    assert writer_pid != os.getpid()
    assert await notes(store) == ["one"]


async def test_the_writer_keeps_its_start_up_out_of_the_garbage_collectors_passes(
    store: Store,
) -> None:
    frozen, young_threshold = await store.run_write(collector_state)
    assert frozen > 0
    assert young_threshold == BATCH_YOUNG_THRESHOLD


async def test_an_error_reaches_the_caller_and_nothing_of_its_work_is_kept(store: Store) -> None:
    with pytest.raises(ValueError, match="refused two"):
        await store.run_write(functools.partial(record_then_fail, note="two"))
    await store.run_write(functools.partial(record, note="three"))
    assert await notes(store) == ["three"]


async def test_a_write_in_flight_fails_when_the_writer_dies_and_the_next_one_starts_anew(
    store: Store,
) -> None:
    first_pid = await store.run_write(functools.partial(record, note="before"))
    slow = asyncio.create_task(store.run_write(functools.partial(record_slowly, note="lost")))
    await asyncio.sleep(0.5)
    os.kill(first_pid, signal.SIGKILL)
    with pytest.raises(WriterGone):
        await slow
    second_pid = await store.run_write(functools.partial(record, note="after"))
    assert second_pid != first_pid
    assert await notes(store) == ["before", "after"]


async def test_a_unit_of_work_that_cannot_cross_runs_in_this_process(store: Store) -> None:
    note = "closure"
    writer_pid = await store.run_write(lambda connection: record(connection, note))
    assert writer_pid == os.getpid()
    assert await notes(store) == ["closure"]


async def test_a_write_sent_after_another_runs_once_that_one_has_committed(
    either_writer: Store,
) -> None:
    first = await either_writer.submit_write(
        functools.partial(record_slowly, note="first", seconds=0.3)
    )
    second = await either_writer.submit_write(functools.partial(record, note="second"), first)
    await asyncio.gather(first, second)
    assert await notes(either_writer) == ["first", "second"]


async def test_a_write_sent_after_one_that_fails_is_not_run_nor_what_follows_it(
    either_writer: Store,
) -> None:
    failing = await either_writer.submit_write(functools.partial(record_then_fail, note="x"))
    second = await either_writer.submit_write(functools.partial(record, note="no"), failing)
    third = await either_writer.submit_write(functools.partial(record, note="nor"), second)
    with pytest.raises(ValueError, match="refused x"):
        await failing
    for skipped in (second, third):
        with pytest.raises(AfterFailed):
            await skipped
    assert await notes(either_writer) == []


async def test_a_write_sent_after_one_that_already_failed_is_not_run(
    either_writer: Store,
) -> None:
    failing = await either_writer.submit_write(functools.partial(record_then_fail, note="x"))
    with pytest.raises(ValueError, match="refused x"):
        await failing
    late = await either_writer.submit_write(functools.partial(record, note="no"), failing)
    with pytest.raises(AfterFailed):
        await late
    assert await notes(either_writer) == []


async def test_other_writes_between_the_two_do_not_break_the_chain(store: Store) -> None:
    first = await store.submit_write(functools.partial(record_slowly, note="first", seconds=0.3))
    unrelated = await store.submit_write(functools.partial(record_then_fail, note="other"))
    second = await store.submit_write(functools.partial(record, note="second"), first)
    with pytest.raises(ValueError, match="refused other"):
        await unrelated
    await asyncio.gather(first, second)
    assert await notes(store) == ["first", "second"]


def test_the_writer_exits_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    script = (
        "import asyncio, functools, sys\n"
        "from xiaozhi_server.store import migrate\n"
        "from xiaozhi_server.store.database import Store\n"
        "from tests.integration.store.test_writer_process import record\n"
        "async def main():\n"
        f"    store = Store({url!r}, writer_process=True)\n"
        "    await migrate.upgrade(store.engine)\n"
        "    print(await store.run_write(functools.partial(record, note='x')), flush=True)\n"
        "    await asyncio.sleep(600)\n"
        "asyncio.run(main())\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    writer_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    for _ in range(600):  # it notices at once; this only bounds a broken build
        if not _running(writer_pid):
            break
        time.sleep(0.05)
    assert not _running(writer_pid)


def _running(pid: int) -> bool:
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return False
