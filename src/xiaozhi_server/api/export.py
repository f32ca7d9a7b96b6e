"""Export as JSON lines, CSV or a readable transcript, streamed in constant memory."""

from __future__ import annotations

import csv
import io
import json
import zoneinfo
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from xiaozhi_server.api.contract import ADMIN, ADMIN_ERRORS, errors
from xiaozhi_server.api.devices import resolve_device
from xiaozhi_server.api.params import DeviceRef, SessionRef, Time, Zone
from xiaozhi_server.api.schemas import EXPORT_DOWNLOAD
from xiaozhi_server.api.views import message_view
from xiaozhi_server.realtime.bus import jsonable
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store.messages import messages_after

router = APIRouter(prefix="/api/v2", tags=["export"], dependencies=ADMIN, responses=ADMIN_ERRORS)
PAGE = 1000
MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}
CSV_COLUMNS = [
    "id",
    "created_at",
    "device",
    "session_id",
    "agent_id",
    "chat_type",
    "content",
    "audio_id",
    "source",
]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SPEAKERS = {1: "用户 User", 2: "助手 Agent", 3: "工具 Tool"}


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: EXPORT_DOWNLOAD,
        **errors(400, 404, not_found="No device with this MAC or upstream id."),
    },
)
async def export(
    services: Services = Depends(get_services),
    format: Literal["jsonl", "csv", "txt"] = "jsonl",
    device: Annotated[
        DeviceRef | None, Query(description="MAC (any spelling) or upstream device id")
    ] = None,
    session: Annotated[SessionRef | None, Query(description="session id")] = None,
    from_: Annotated[Time, Query(alias="from", description="messages created at or after")] = None,
    to: Annotated[Time, Query(description="messages created before")] = None,
    tz: Annotated[
        Zone | None, Query(description="zone for the times in the transcript (txt)")
    ] = None,
) -> StreamingResponse:
    """Every matching message in id order, streamed page by page."""
    zone = tz or zoneinfo.ZoneInfo("UTC")
    mac = (await resolve_device(services, device))["mac"] if device else None
    filters = {"device": mac, "session": session, "since": from_, "until": to}
    pages = _pages(services, filters)
    body = (
        _jsonl(pages)
        if format == "jsonl"
        else _csv(pages)
        if format == "csv"
        else _transcript(pages, zone)
    )
    name = f"xiaozhi-chat-history-{datetime.now(UTC):%Y%m%d-%H%M%S}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type=MEDIA_TYPES[format], headers=headers)


async def _pages(
    services: Services, filters: dict[str, Any]
) -> AsyncIterator[list[dict[str, Any]]]:
    last = 0
    while True:
        rows = await messages_after(services.store, last, PAGE, **filters)
        if not rows:
            return
        yield rows
        last = rows[-1]["id"]


async def _jsonl(pages: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[str]:
    async for rows in pages:
        yield "".join(
            json.dumps(jsonable(message_view(r)), ensure_ascii=False) + "\n" for r in rows
        )


async def _csv(pages: AsyncIterator[list[dict[str, Any]]]) -> AsyncIterator[str]:
    yield "\ufeff" + ",".join(CSV_COLUMNS) + "\r\n"  # the BOM makes spreadsheet apps read UTF-8
    async for rows in pages:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            view = jsonable(message_view(row))
            writer.writerow([spreadsheet_safe(view[column]) for column in CSV_COLUMNS])
        yield buffer.getvalue()


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a leading ' before = + - @ tab or CR (OWASP)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


async def _transcript(
    pages: AsyncIterator[list[dict[str, Any]]], zone: zoneinfo.ZoneInfo
) -> AsyncIterator[str]:
    current = None
    async for rows in pages:
        lines = []
        for row in rows:
            if row["session_id"] != current:
                current = row["session_id"]
                lines.append(f"\n=== 会话 Session {current} · 设备 Device {row['device']} ===\n")
            moment = row["created_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"[{moment}] {SPEAKERS.get(row['chat_type'], '?')}: {row['content']}\n")
        yield "".join(lines)
