"""Agents by name, for people to choose from (filters) and read (instead of ids)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from xiaozhi_server.api.contract import READER, errors
from xiaozhi_server.api.params import MAX_OFFSET, page_limit
from xiaozhi_server.api.schemas import AgentList
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import devices as device_queries

router = APIRouter(prefix="/api/v2", tags=["devices"], dependencies=READER)


@router.get("/agents", response_model=AgentList, responses=errors(400))
async def list_agents(
    services: Services = Depends(get_services),
    limit: Annotated[int, page_limit("agents")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="agents to skip")] = 0,
) -> dict[str, Any]:
    """Every agent the upstream named, and those devices name only by id, by name."""
    rows, total = await device_queries.device_agents(services.store, limit, offset)
    return {"items": rows, "total": total, "limit": limit, "offset": offset}
