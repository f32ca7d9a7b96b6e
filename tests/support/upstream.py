"""An upstream xiaozhi-esp32-server database on the test MariaDB: the tables of
../shared/UPSTREAM.md (DDL written here) and a generator of realistic rows."""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncmy

from tests.support.core_client import wav_bytes
from tests.support.servers import MariaDB

DDL = [
    """CREATE TABLE ai_agent_chat_history (
        id BIGINT AUTO_INCREMENT PRIMARY KEY, mac_address VARCHAR(50), agent_id VARCHAR(32),
        session_id VARCHAR(50), chat_type TINYINT, content TEXT, audio_id VARCHAR(32),
        created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
        updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
            ON UPDATE CURRENT_TIMESTAMP(3),
        INDEX (mac_address), INDEX (session_id), INDEX (agent_id),
        INDEX (agent_id, session_id, created_at), INDEX (audio_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    "CREATE TABLE ai_agent_chat_audio (id VARCHAR(32) PRIMARY KEY, audio LONGBLOB) ENGINE=InnoDB",
    """CREATE TABLE ai_agent_chat_title (id VARCHAR(32) PRIMARY KEY, session_id VARCHAR(255),
        title VARCHAR(255), created_at DATETIME, updated_at DATETIME, INDEX (session_id)
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE ai_device (id VARCHAR(32) PRIMARY KEY, user_id BIGINT, mac_address VARCHAR(50),
        last_connected_at DATETIME, auto_update TINYINT, board VARCHAR(50), alias VARCHAR(64),
        agent_id VARCHAR(32), app_version VARCHAR(20), sort INT, creator BIGINT,
        create_date DATETIME, updater BIGINT, update_date DATETIME
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
    """CREATE TABLE ai_agent (id VARCHAR(32) PRIMARY KEY, user_id BIGINT, agent_code VARCHAR(36),
        agent_name VARCHAR(64), system_prompt TEXT, chat_history_conf TINYINT,
        lang_code VARCHAR(10),
        language VARCHAR(10), sort INT, creator BIGINT, created_at DATETIME, updater BIGINT,
        updated_at DATETIME
    ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4""",
]
PHRASES = [
    "今天天气怎么样",
    "给我讲个故事",
    "Tell me a joke",
    "播放音乐",
    "What time is it",
    "晚安 🌙",
]
INSERT_MESSAGE = (
    "INSERT INTO ai_agent_chat_history (mac_address, agent_id, session_id, chat_type, content,"
    " audio_id, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


@dataclass
class Upstream:
    """One upstream database; methods write to it as manager-api would."""

    server: MariaDB
    database: str

    def db_settings(self) -> dict[str, Any]:
        """The ``esp32_server.db`` settings that reach this database."""
        server = self.server
        return {
            "host": "127.0.0.1",
            "port": server.port,
            "user": server.user,
            "password": server.password,
            "database": self.database,
        }

    def environment(self, store_url: str) -> dict[str, str]:
        """This process's environment, without XIAOZHI_ overrides, plus the store and this
        database as ``XIAOZHI_…`` variables (for the command line)."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("XIAOZHI_")}
        database = {
            f"XIAOZHI_ESP32_SERVER__DB__{k.upper()}": str(v) for k, v in self.db_settings().items()
        }
        return clean | database | {"XIAOZHI_STORAGE__URL": store_url}

    async def connect(self) -> Any:
        return await asyncmy.connect(
            host="127.0.0.1",
            port=self.server.port,
            user=self.server.user,
            password=self.server.password,
            database=self.database,
            autocommit=True,
            charset="utf8mb4",
        )

    async def execute(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        connection = await self.connect()
        try:
            async with connection.cursor() as cursor:
                await cursor.execute(sql, tuple(args))
                return list(await cursor.fetchall())
        finally:
            connection.close()

    async def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        connection = await self.connect()
        try:
            async with connection.cursor() as cursor:
                await cursor.executemany(sql, rows)
        finally:
            connection.close()

    async def add_agent(self, agent_id: str, name: str, conf: int = 2) -> None:
        await self.execute(
            "INSERT INTO ai_agent (id, agent_name, chat_history_conf) VALUES (%s, %s, %s)",
            (agent_id, name, conf),
        )

    async def add_device(self, device_id: str, mac: str, agent_id: str, alias: str) -> None:
        await self.execute(
            "INSERT INTO ai_device"
            " (id, mac_address, agent_id, alias, board, app_version, last_connected_at)"
            " VALUES (%s, %s, %s, %s, 'esp-box-3', '1.7.6', '2026-11-24 10:00:00')",
            (device_id, mac, agent_id, alias),
        )

    async def add_title(self, session_id: str, title: str, at: str = "2026-11-24 12:00:00") -> None:
        await self.execute(
            "INSERT INTO ai_agent_chat_title (id, session_id, title, created_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s)",
            (uuid.uuid4().hex, session_id, title, at, at),
        )

    async def count(self) -> int:
        return int((await self.execute("SELECT COUNT(*) FROM ai_agent_chat_history"))[0][0])

    async def rows(self) -> list[tuple[Any, ...]]:
        """Every chat row as (id, mac, session, chat_type, content, audio_id, created_at)."""
        return await self.execute(
            "SELECT id, mac_address, session_id, chat_type, content, audio_id, created_at"
            " FROM ai_agent_chat_history ORDER BY id"
        )


@contextmanager
def upstream_database(server: MariaDB) -> Iterator[Upstream]:
    """A fresh upstream database (tables only) on ``server``, dropped afterwards."""
    name = f"up_{uuid.uuid4().hex[:10]}"
    server.sql(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
    server.sql(f"USE {name}; " + "; ".join(DDL))
    try:
        yield Upstream(server, name)
    finally:
        server.sql(f"DROP DATABASE {name}")


async def generate(upstream: Upstream, devices: int, sessions: int, seed: int = 1) -> int:
    """Agents, devices, sessions of turns with tool rows, some audio and titles; returns rows."""
    rng = random.Random(seed)
    for n in range(3):
        await upstream.add_agent(f"agent{n}", ["小智", "Tutor", "故事大王"][n])
    await upstream.executemany(
        "INSERT INTO ai_device (id, mac_address, agent_id, alias, board, app_version)"
        " VALUES (%s, %s, %s, %s, 'bread-compact-wifi', '1.7.6')",
        [(f"dev{d:05d}", mac(d), f"agent{d % 3}", f"设备{d}") for d in range(devices)],
    )
    rows, audio = [], []
    start = datetime(2026, 11, 20, 8, 0)
    for s in range(sessions):
        device = rng.randrange(devices)
        session_id = f"sess-{seed}-{s:06d}"
        for turn in range(rng.randint(2, 6)):
            kind = 3 if turn == 1 and rng.random() < 0.3 else 1 + turn % 2
            content = (
                json.dumps([{"type": "tool", "text": "get_weather({})"}])
                if kind == 3
                else f"{rng.choice(PHRASES)} {s}-{turn}"
            )
            audio_id = uuid.uuid4().hex if kind == 2 and rng.random() < 0.1 else None
            if audio_id:
                audio.append((audio_id, wav_bytes(200)))
            moment = start + timedelta(seconds=40 * s + 3 * turn, milliseconds=rng.randrange(1000))
            rows.append(
                (mac(device), f"agent{device % 3}", session_id, kind, content, audio_id, moment)
            )
        if rng.random() < 0.5:
            await upstream.add_title(session_id, f"会话{s}")
    await upstream.executemany(INSERT_MESSAGE, rows)
    if audio:
        await upstream.executemany(
            "INSERT INTO ai_agent_chat_audio (id, audio) VALUES (%s, %s)", audio
        )
    return len(rows)


def mac(device: int) -> str:
    """The MAC of generated device number ``device`` (upper case, as devices report it)."""
    return f"A0:85:E3:{device // 65536:02X}:{device // 256 % 256:02X}:{device % 256:02X}"
