"""Ingest upsert throughput into SQLite, next to raw sqlite3.executemany of the same rows.

Both write 100,000 messages in batches of 1,000 into a WAL-mode file with the same
columns and indexes; the ratio ingest/raw is the figure that matters (goal >= 0.7).
Ingest runs as the sources run it since 2026-12-01: the store opened as ``serve`` and
``sync`` open it (the SQLite writer process) and batches streamed through ``WriteBehind``
(the next batch normalised and prepared while the previous one is written). For
comparison, the same rows also go one ``Ingestor.ingest`` call at a time, each awaited,
through the writer process and through the writer thread (how this was measured before).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import cpu_seconds, report, tree_memory
from xiaozhi_server.domain import Batch, MessageRecord
from xiaozhi_server.ingest.natural_key import natural_key
from xiaozhi_server.ingest.pipeline import Ingestor, IngestResult
from xiaozhi_server.ingest.write_behind import WriteBehind
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store import migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.engine import SQLITE_PRAGMAS

TOTAL = 100_000
BATCH = 1_000
TURNS_PER_SESSION = 20
DEVICES = 200
START = datetime(2026, 11, 1, tzinfo=UTC)

RAW_SCHEMA = """
CREATE TABLE messages (
    id INTEGER PRIMARY KEY, natural_key VARCHAR(64) NOT NULL UNIQUE,
    source VARCHAR(16) NOT NULL, source_id BIGINT, device VARCHAR(64) NOT NULL,
    agent_id VARCHAR(32), session_id VARCHAR(64) NOT NULL, chat_type SMALLINT NOT NULL,
    content TEXT NOT NULL, speaker VARCHAR(128), audio_id VARCHAR(32),
    created_at VARCHAR(23) NOT NULL,
    ingested_at VARCHAR(23) NOT NULL, updated_at VARCHAR(23) NOT NULL,
    deleted_upstream_at VARCHAR(23));
CREATE INDEX ix_source_id ON messages (source_id);
CREATE INDEX ix_audio_id ON messages (audio_id);
CREATE INDEX ix_created_at ON messages (created_at);
CREATE INDEX ix_device_session ON messages (device, session_id, created_at);
CREATE INDEX ix_agent ON messages (agent_id, created_at);
CREATE INDEX ix_session ON messages (session_id, created_at);
"""


def make_records() -> list[MessageRecord]:
    """Sessions of alternating user/agent turns spread over many devices."""
    records = []
    for n in range(TOTAL):
        session = n // TURNS_PER_SESSION
        device = session % DEVICES
        records.append(
            MessageRecord(
                device=f"a0:85:e3:00:{device // 256:02x}:{device % 256:02x}",
                session_id=f"session-{session:06d}",
                chat_type=1 + n % 2,
                content=f"第{n}句：今天天气怎么样？ message number {n}",
                created_at=START + timedelta(seconds=n),
                source="bench",
                agent_id=f"agent-{device % 7}",
            )
        )
    return records


def raw_rows(records: list[MessageRecord]) -> list[tuple[object, ...]]:
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    return [
        (
            natural_key(r.device, r.session_id, r.chat_type, r.created_at, r.content),
            r.source,
            None,
            r.device,
            r.agent_id,
            r.session_id,
            r.chat_type,
            r.content,
            None,
            None,
            r.created_at.replace(tzinfo=None).isoformat(" "),
            now,
            now,
            None,
        )
        for r in records
    ]


def measure_raw(path: Path, rows: Sequence[tuple[object, ...]], batch: int = BATCH) -> float:
    """Seconds for sqlite3.executemany of ``rows`` into RAW_SCHEMA, one commit per ``batch``,
    with the store's own pragmas (the baseline the write path is compared to)."""
    return measure_raw_cpu(path, rows, batch)[0]


def measure_raw_cpu(
    path: Path, rows: Sequence[tuple[object, ...]], batch: int = BATCH
) -> tuple[float, float]:
    """``measure_raw``'s seconds, and the CPU seconds it used."""
    connection = sqlite3.connect(path)
    for pragma in SQLITE_PRAGMAS:
        connection.execute(pragma)
    connection.executescript(RAW_SCHEMA)
    started, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), batch):
        with connection:
            connection.executemany(
                "INSERT INTO messages (natural_key, source, source_id, device, agent_id,"
                " session_id, chat_type, content, speaker, audio_id, created_at, ingested_at,"
                " updated_at, deleted_upstream_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                rows[start : start + batch],
            )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    connection.close()
    return elapsed, cpu


async def measure_ingest(
    path: Path, records: list[MessageRecord], mode: str = "write_behind"
) -> tuple[float, float, float]:
    """Seconds to ingest ``records`` in batches of BATCH: ``write_behind`` (writer process),
    or one awaited call at a time (``one_at_a_time_process`` / ``one_at_a_time_thread``);
    and the CPU seconds of this process and of the writer process."""
    store = Store(f"sqlite+aiosqlite:///{path}", writer_process=not mode.endswith("thread"))
    await migrate.upgrade(store.engine)
    await store.start_writer()  # started before the clock, as serve and sync start it
    ingestor = Ingestor(store, EventBus())
    stored = 0

    def count(batch: Batch, result: IngestResult) -> None:
        nonlocal stored
        stored += result.inserted

    writer = list(tree_memory(os.getpid()))[1:]  # the writer process (none with a thread)
    writer_cpu = sum(cpu_seconds(p) for p in writer)
    started, cpu = time.perf_counter(), time.process_time()
    if mode == "write_behind":
        async with WriteBehind(ingestor, count) as writes:
            for start in range(0, len(records), BATCH):
                await writes.add(Batch(messages=records[start : start + BATCH]))
    else:
        for start in range(0, len(records), BATCH):
            batch = Batch(messages=records[start : start + BATCH])
            count(batch, await ingestor.ingest(batch))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    writer_cpu = sum(cpu_seconds(p) for p in writer) - writer_cpu
    assert stored == len(records)
    await store.close()
    return elapsed, cpu, writer_cpu


MODES = ("write_behind", "one_at_a_time_process", "one_at_a_time_thread")


def main(rounds: int = 3) -> None:
    """Alternate raw and ingest runs on fresh files; report the best of each (least noise)."""
    records = make_records()
    rows = raw_rows(records)
    raw_runs: list[tuple[float, float]] = []
    runs: dict[str, list[tuple[float, float, float]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as scratch:
        for n in range(rounds):
            raw_runs.append(measure_raw_cpu(Path(scratch) / f"raw-{n}.db", rows))
            for mode in MODES:
                path = Path(scratch) / f"hub-{mode}-{n}.db"
                runs[mode].append(asyncio.run(measure_ingest(path, records, mode)))
    raw = min(seconds for seconds, _ in raw_runs)
    best = {mode: min(run[0] for run in values) for mode, values in runs.items()}
    caller_cpu = min(run[1] for run in runs["write_behind"])
    writer_cpu = min(run[2] for run in runs["write_behind"])
    report(
        "ingest_throughput_sqlite",
        {
            "messages": TOTAL,
            "batch_size": BATCH,
            "rounds": rounds,
            "ingest_messages_per_s": round(TOTAL / best["write_behind"]),
            "raw_executemany_messages_per_s": round(TOTAL / raw),
            "ratio": round(raw / best["write_behind"], 3),
            "goal_ratio": 0.7,
            # CPU (least of the rounds) per message: on a shared machine the rates follow
            # the CPU the others leave; these do not
            "cpu_us_per_message": {
                "raw_executemany": round(min(cpu for _, cpu in raw_runs) / TOTAL * 1e6, 1),
                "ingest_caller": round(caller_cpu / TOTAL * 1e6, 1),
                "ingest_writer_process": round(writer_cpu / TOTAL * 1e6, 1),
            },
            "one_at_a_time": {
                mode.removeprefix("one_at_a_time_"): {
                    "messages_per_s": round(TOTAL / best[mode]),
                    "ratio": round(raw / best[mode], 3),
                }
                for mode in MODES[1:]
            },
        },
    )


if __name__ == "__main__":
    main()
