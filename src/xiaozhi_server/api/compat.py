"""manager-api's chat-history reads, in its envelope and field names, served from the hub.

Tools written against manager-api (``/agent/{agentId}/sessions``,
``/agent/{agentId}/chat-history/{sessionId}``) read the hub unchanged — and keep working
while manager-api is down. Any role may read them; titles and text are masked as
``privacy.mask`` says, for everyone (manager-api's tools know no ``unmask``).
"""

from __future__ import annotations

import zoneinfo
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response

from xiaozhi_server.api.params import MAX_OFFSET, MAX_PAGE
from xiaozhi_server.ingest.speaker import join_speaker
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.sources.envelope import failure, success
from xiaozhi_server.store import messages as message_queries
from xiaozhi_server.store import sessions as session_queries

# Keeps the row offset within what every database takes, whatever the page size.
_LAST_PAGE = MAX_OFFSET // MAX_PAGE


def compat_router(prefix: str) -> APIRouter:
    """The two read endpoints under ``prefix`` (default /xiaozhi)."""
    router = APIRouter(prefix=prefix, tags=["manager-api compatible reads"])

    @router.get("/agent/{agentId}/sessions")
    async def agent_sessions(
        agentId: str, request: Request, page: str = "1", limit: str = "10"
    ) -> Response:
        """``{"total", "list": [{sessionId, createdAt, chatCount, title}]}``, newest first."""
        services = get_services(request)
        if not await services.authenticator.authenticate(request):
            return failure(401, "unauthorized: send Authorization: Bearer <api token>")
        try:
            page_number, size = int(page), int(limit)
        except ValueError:
            return failure(400, "page and limit must be integers")
        if not 1 <= page_number <= _LAST_PAGE or not 1 <= size <= MAX_PAGE:
            return failure(400, f"page must be 1 to {_LAST_PAGE} and limit between 1 and 100")
        rows = await session_queries.agent_sessions_page(
            services.store, agentId, size, (page_number - 1) * size
        )
        total = await session_queries.count_agent_sessions(services.store, agentId)
        zone, masker = _zone(services), services.masker
        items = [
            {
                "sessionId": row["session_id"],
                "createdAt": _local(row["last_message_at"], zone),
                "chatCount": row["message_count"],
                "title": masker.optional(row["title"]),
            }
            for row in rows
        ]
        return success({"total": total, "list": items})

    @router.get("/agent/{agentId}/chat-history/{sessionId}")
    async def agent_chat_history(agentId: str, sessionId: str, request: Request) -> Response:
        """The session's turns: ``[{createdAt, chatType, content, audioId, macAddress}]``."""
        services = get_services(request)
        if not await services.authenticator.authenticate(request):
            return failure(401, "unauthorized: send Authorization: Bearer <api token>")
        zone, masker = _zone(services), services.masker
        rows = await message_queries.session_messages(services.store, sessionId)
        items = [
            {
                "createdAt": _local(row["created_at"], zone),
                "chatType": row["chat_type"],
                # manager-api's form: a named speaker inside the content's JSON
                "content": join_speaker(row["speaker"], masker.text(row["content"])),
                "audioId": row["audio_id"],
                "macAddress": row["device"],
            }
            for row in rows
            if row["agent_id"] in (agentId, None)
        ]
        return success(items)

    return router


def _zone(services: Services) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(services.settings.esp32_server.db_timezone)


def _local(moment: datetime | None, zone: zoneinfo.ZoneInfo) -> Any:
    """manager-api's date format: 'yyyy-MM-dd HH:mm:ss' in its own zone."""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if moment else None
