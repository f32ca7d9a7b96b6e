"""Reading xiaozhi-esp32-server's MySQL database (the tables of ../shared/UPSTREAM.md).

The only module that knows the upstream's table and column names. Every query is keyset
paginated and bounded by ``limit``, so memory stays flat however large the tables are.
Content is read as bytes and decoded here, so one row that is not valid UTF-8 is skipped
with its reason instead of failing the whole page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncmy

from xiaozhi_server.config import Esp32ServerSettings, SyncServiceSettings
from xiaozhi_server.sources.upstream_connection import UpstreamConnection

_MESSAGE_COLUMNS = (
    "id, mac_address, agent_id, session_id, chat_type, CAST(content AS BINARY) AS content,"
    " audio_id, created_at, updated_at"
)
_PARSE_ERROR = 1064
TABLES = {
    "ai_agent_chat_history": {
        "id",
        "mac_address",
        "agent_id",
        "session_id",
        "chat_type",
        "content",
        "audio_id",
        "created_at",
        "updated_at",
    },
    "ai_agent_chat_audio": {"id", "audio"},
    "ai_agent_chat_title": {"id", "session_id", "title", "created_at", "updated_at"},
    "ai_device": {
        "id",
        "mac_address",
        "last_connected_at",
        "board",
        "alias",
        "agent_id",
        "app_version",
    },
    "ai_agent": {"id", "agent_name", "chat_history_conf"},
}


class UpstreamDatabase:
    """One connection to the upstream database, opened on first use; a frozen server or a
    stalled path is reported within ``stall_timeout`` (see ``upstream_connection``)."""

    def __init__(self, settings: Esp32ServerSettings, stall_timeout: float | None = None) -> None:
        stall = SyncServiceSettings().stall_timeout if stall_timeout is None else stall_timeout
        self._connection = UpstreamConnection(settings, stall)

    async def close(self) -> None:
        """Close the connection, if open."""
        self._connection.close()

    async def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return await self._connection.rows(sql, args)

    async def ping(self) -> None:
        """Connect (if needed) and run a trivial query: proves the login, reads no table."""
        await self._rows("SELECT 1 AS ok")

    async def max_message_id(self) -> int:
        """The highest chat-history id (0 for an empty table)."""
        rows = await self._rows("SELECT COALESCE(MAX(id), 0) AS top FROM ai_agent_chat_history")
        return int(rows[0]["top"])

    async def now(self) -> datetime:
        """The upstream server's clock, in the zone its updated_at columns are written in."""
        rows = await self._rows("SELECT NOW(3) AS now")
        moment: datetime = rows[0]["now"]
        return moment

    async def messages_after(self, after_id: int, limit: int) -> list[dict[str, Any]]:
        """Rows with id > ``after_id``, in id order."""
        return await self._rows(
            f"SELECT {_MESSAGE_COLUMNS} FROM ai_agent_chat_history"
            " WHERE id > %s ORDER BY id LIMIT %s",
            (after_id, limit),
        )

    async def messages_by_id(self, ids: Sequence[int]) -> list[dict[str, Any]]:
        """The rows with these ids that exist now."""
        if not ids:
            return []
        marks = ",".join(["%s"] * len(ids))
        return await self._rows(
            f"SELECT {_MESSAGE_COLUMNS} FROM ai_agent_chat_history WHERE id IN ({marks})", ids
        )

    async def changed_ids(self, since: datetime, up_to_id: int) -> list[tuple[int, datetime]]:
        """(id, updated_at) of rows with id <= ``up_to_id`` updated at or after ``since``.

        Narrow on purpose: the table has no index on updated_at, so this is one scan per
        pass; only the rows that really changed are then read whole, by id.
        """
        rows = await self._rows(
            "SELECT id, updated_at FROM ai_agent_chat_history WHERE updated_at >= %s AND id <= %s",
            (since, up_to_id),
        )
        return [(int(row["id"]), row["updated_at"]) for row in rows]

    async def audio(self, ids: Sequence[str]) -> dict[str, bytes]:
        """WAV bytes by audio id."""
        if not ids:
            return {}
        marks = ",".join(["%s"] * len(ids))
        rows = await self._rows(
            f"SELECT id, audio FROM ai_agent_chat_audio WHERE id IN ({marks})", ids
        )
        return {row["id"]: bytes(row["audio"]) for row in rows if row["audio"]}

    async def titles_changed(
        self, since: datetime | None, after: tuple[datetime, str] | None, limit: int
    ) -> list[dict[str, Any]]:
        """Titles created or changed at or after ``since`` (all when None), in
        (changed_at, id) order, after ``after``."""
        changed = "CAST(COALESCE(updated_at, created_at, '2000-01-01') AS DATETIME)"
        conditions: list[str] = []
        args: list[Any] = []
        if since is not None:
            conditions.append(f"{changed} >= %s")
            args.append(since)
        if after is not None:
            conditions.append(f"({changed} > %s OR ({changed} = %s AND id > %s))")
            args += [after[0], after[0], after[1]]
        where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
        return await self._rows(
            f"SELECT id, session_id, title, {changed} AS changed_at FROM ai_agent_chat_title"
            f" {where} ORDER BY changed_at, id LIMIT %s",
            (*args, limit),
        )

    async def devices(self) -> list[dict[str, Any]]:
        """Every bound device."""
        return await self._rows(
            "SELECT id, mac_address, alias, board, app_version, agent_id, last_connected_at"
            " FROM ai_device"
        )

    async def agents(self) -> list[dict[str, Any]]:
        """Every agent."""
        return await self._rows("SELECT id, agent_name, chat_history_conf FROM ai_agent")

    async def id_digest(self, low: int, high: int) -> tuple[int, int]:
        """(count, sum of ids) of chat-history rows with low <= id <= high."""
        rows = await self._rows(
            "SELECT COUNT(*) AS n, COALESCE(SUM(id), 0) AS total FROM ai_agent_chat_history"
            " WHERE id BETWEEN %s AND %s",
            (low, high),
        )
        return int(rows[0]["n"]), int(rows[0]["total"])

    async def ids_between(self, low: int, high: int) -> set[int]:
        """Every chat-history id with low <= id <= high."""
        rows = await self._rows(
            "SELECT id FROM ai_agent_chat_history WHERE id BETWEEN %s AND %s", (low, high)
        )
        return {int(row["id"]) for row in rows}

    async def binlog_settings(self) -> dict[str, str]:
        """The server's binary-log variables (log_bin, binlog_format, binlog_row_image, ...)."""
        rows = await self._rows(
            "SHOW VARIABLES WHERE Variable_name IN"
            " ('log_bin', 'binlog_format', 'binlog_row_image', 'binlog_row_metadata',"
            " 'binlog_transaction_compression', 'log_bin_compress')"
        )
        return {row["Variable_name"]: str(row["Value"]) for row in rows}

    async def binlog_position(self) -> tuple[str, int] | None:
        """(file, offset) the server's binary log is writing at now; None when it is off."""
        try:
            rows = await self._rows("SHOW MASTER STATUS")
        except asyncmy.errors.ProgrammingError as exc:
            if exc.args[0] != _PARSE_ERROR:
                raise
            rows = await self._rows("SHOW BINARY LOG STATUS")  # MySQL 8.4 renamed it
        if not rows:
            return None
        return str(rows[0]["File"]), int(rows[0]["Position"])

    async def binlog_files(self) -> set[str]:
        """The binary-log files the server still holds (older ones were purged)."""
        return {str(row["Log_name"]) for row in await self._rows("SHOW BINARY LOGS")}

    async def column_order(self, table: str) -> list[str]:
        """``table``'s column names in their ordinal positions (as rows carry them)."""
        rows = await self._rows(
            "SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
            (table,),
        )
        return [str(row["c"]) for row in rows]

    async def grants(self) -> str:
        """Everything SHOW GRANTS says about the current user, as one text."""
        rows = await self._rows("SHOW GRANTS")
        return " ".join(str(value) for row in rows for value in row.values())

    async def columns(self) -> dict[str, set[str]]:
        """The followed tables and their columns, as the server reports them."""
        rows = await self._rows(
            "SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = DATABASE()"
        )
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(row["t"], set()).add(row["c"])
        return found
