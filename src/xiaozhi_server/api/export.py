"""Export as JSON lines, CSV or a readable transcript, streamed in constant memory."""

from __future__ import annotations

import csv
import io
import json
import zoneinfo
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from xiaozhi_server.api.contract import ADMIN, errors
from xiaozhi_server.api.devices import resolve_device
from xiaozhi_server.api.export_marks import (
    MARK_COLUMNS,
    csv_cells,
    marks_of_row,
    message_lines,
    session_heading,
    with_marks,
)
from xiaozhi_server.api.mark_schemas import StarredFilter, TagFilter
from xiaozhi_server.api.params import DeviceRef, SessionRef, Time, Zone
from xiaozhi_server.api.schemas import EXPORT_DOWNLOAD
from xiaozhi_server.api.unmask import content_masking
from xiaozhi_server.api.views import message_view
from xiaozhi_server.auth.guard import Principal, client_address, require_admin
from xiaozhi_server.privacy.masking import Masker
from xiaozhi_server.realtime.bus import jsonable
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store.audit import AuditEntry, record
from xiaozhi_server.store.messages import messages_after

router = APIRouter(prefix="/api/v2", tags=["export"], dependencies=ADMIN)
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
    "speaker",
    "content",
    "audio_id",
    "source",
]
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SPEAKERS = {1: "用户 User", 2: "助手 Agent", 3: "工具 Tool"}
_TARGETS = ("device", "session")


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={
        200: EXPORT_DOWNLOAD,
        **errors(400, 404, not_found="No device with this MAC or upstream id."),
    },
)
async def export(
    request: Request,
    services: Services = Depends(get_services),
    format: Literal["jsonl", "csv", "txt"] = "jsonl",
    device: Annotated[
        DeviceRef | None, Query(description="MAC (any spelling) or upstream device id")
    ] = None,
    session: Annotated[SessionRef | None, Query(description="session id")] = None,
    from_: Annotated[Time, Query(alias="from", description="messages created at or after")] = None,
    to: Annotated[Time, Query(description="messages created before")] = None,
    starred: StarredFilter = None,
    tag: TagFilter = None,
    tz: Annotated[
        Zone | None, Query(description="zone for the times in the transcript (txt)")
    ] = None,
    masker: Masker | None = Depends(content_masking),
    principal: Principal = Depends(require_admin),
) -> StreamingResponse:
    """Every matching message in id order, streamed page by page (admins only).

    Each export is recorded in the audit trail: the format and filters, never the text.
    """
    zone = tz or zoneinfo.ZoneInfo("UTC")
    mac = (await resolve_device(services, device))["mac"] if device else None
    filters = {"device": mac, "session": session, "since": from_, "until": to}
    filters |= {"starred": starred, "tag": tag}
    await _record_export(services, principal, client_address(request), format, filters, masker)
    pages = with_marks(services, _pages(services, filters))
    body = (
        _jsonl(pages, masker)
        if format == "jsonl"
        else _csv(pages, masker)
        if format == "csv"
        else _transcript(pages, zone, masker)
    )
    name = f"xiaozhi-chat-history-{datetime.now(UTC):%Y%m%d-%H%M%S}.{format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return StreamingResponse(body, media_type=MEDIA_TYPES[format], headers=headers)


async def _record_export(
    services: Services,
    principal: Principal,
    address: str,
    format: str,
    filters: dict[str, Any],
    masker: Masker | None,
) -> None:
    chosen = {name: value for name, value in filters.items() if value is not None}
    if "tag" in chosen:
        chosen["tag"] = True  # which tag is the users' words: only that one was chosen
    detail = {"format": format, "filters": jsonable(chosen), "masked": bool(masker)}
    target = ", ".join(f"{name} {value}" for name, value in chosen.items() if name in _TARGETS)
    entry = AuditEntry(principal.name, principal.kind, "export", target or "all", address, detail)
    await record(services.store, entry)


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


async def _jsonl(
    pages: AsyncIterator[list[dict[str, Any]]], masker: Masker | None
) -> AsyncIterator[str]:
    async for rows in pages:
        yield "".join(
            json.dumps(
                jsonable(message_view(r, masker=masker) | marks_of_row(r)), ensure_ascii=False
            )
            + "\n"
            for r in rows
        )


async def _csv(
    pages: AsyncIterator[list[dict[str, Any]]], masker: Masker | None
) -> AsyncIterator[str]:
    yield (
        "\ufeff" + ",".join(CSV_COLUMNS + MARK_COLUMNS) + "\r\n"
    )  # the BOM makes spreadsheet apps read UTF-8
    async for rows in pages:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for row in rows:
            view = jsonable(message_view(row, masker=masker))
            cells = [view[column] for column in CSV_COLUMNS] + csv_cells(row)
            writer.writerow([spreadsheet_safe(cell) for cell in cells])
        yield buffer.getvalue()


def spreadsheet_safe(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a leading ' before = + - @ tab or CR (OWASP)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


async def _transcript(
    pages: AsyncIterator[list[dict[str, Any]]], zone: zoneinfo.ZoneInfo, masker: Masker | None
) -> AsyncIterator[str]:
    current = None
    async for rows in pages:
        lines = []
        for row in rows:
            if row["session_id"] != current:
                current = row["session_id"]
                lines.append(f"\n=== 会话 Session {current} · 设备 Device {row['device']} ===\n")
                lines.append(session_heading(row))
            moment = row["created_at"].astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
            content = masker.text(row["content"]) if masker else row["content"]
            lines.append(f"[{moment}] {_who(row)}: {content}\n")
            lines.append(message_lines(row))
        yield "".join(lines)


def _who(row: dict[str, Any]) -> str:
    """Who spoke a line: the role, and the speaker's name when voiceprint named one."""
    role = SPEAKERS.get(row["chat_type"], "?")
    return f"{role} · {row['speaker']}" if row["speaker"] else role
