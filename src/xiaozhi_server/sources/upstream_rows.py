"""Upstream rows → domain records: naive local times become UTC, bytes become text."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime
from typing import Any

from xiaozhi_server.domain import AgentRecord, DeviceRecord, MessageRecord, TitleRecord
from xiaozhi_server.ingest.normalise import normalise_device

SOURCE = "poll"


class SkippedRow(ValueError):
    """An upstream row that cannot become a record; the message says why."""


def to_utc(moment: datetime | None, zone: zoneinfo.ZoneInfo) -> datetime | None:
    """An upstream DATETIME (naive, in the upstream's zone) as an aware UTC time."""
    if moment is None:
        return None
    return moment.replace(tzinfo=zone).astimezone(UTC)


def message_record(
    row: dict[str, Any], zone: zoneinfo.ZoneInfo, source: str = SOURCE
) -> MessageRecord:
    """One ai_agent_chat_history row as the upstream holds it now."""
    raw = row["content"]
    try:
        content = raw.decode("utf-8") if isinstance(raw, bytes | bytearray) else raw
    except UnicodeDecodeError:
        raise SkippedRow("content: not valid UTF-8") from None
    created = to_utc(row["created_at"], zone)
    if created is None:
        raise SkippedRow("created_at: missing")
    return MessageRecord(
        device=normalise_device(row["mac_address"]) if row["mac_address"] else row["mac_address"],
        session_id=row["session_id"],
        chat_type=row["chat_type"],
        content=content,
        created_at=created,
        source=source,
        agent_id=row["agent_id"],
        audio_id=row["audio_id"],
        source_id=int(row["id"]),
        upstream_state=True,
    )


def device_record(row: dict[str, Any], zone: zoneinfo.ZoneInfo) -> DeviceRecord:
    """One ai_device row (alias, board, firmware, agent binding, last connection)."""
    return DeviceRecord(
        device=row["mac_address"],
        upstream_id=row["id"],
        alias=row["alias"],
        board=row["board"],
        app_version=row["app_version"],
        agent_id=row["agent_id"],
        last_connected_at=to_utc(row["last_connected_at"], zone),
    )


def agent_record(row: dict[str, Any]) -> AgentRecord:
    """One ai_agent row (name and chat_history_conf)."""
    conf = row["chat_history_conf"]
    return AgentRecord(row["id"], row["agent_name"], int(conf) if conf is not None else None)


def title_record(row: dict[str, Any]) -> TitleRecord:
    """One ai_agent_chat_title row."""
    return TitleRecord(row["session_id"], row["title"] or "")
