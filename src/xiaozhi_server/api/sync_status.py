"""``GET /api/v2/sync/status``: every source's sync state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from xiaozhi_server.api.contract import READER
from xiaozhi_server.api.schemas import SyncStatus
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store.sync_state import all_sync_status

router = APIRouter(prefix="/api/v2", tags=["operations"], dependencies=READER)


@router.get("/sync/status", response_model=SyncStatus, response_model_exclude_unset=True)
async def sync_status(services: Services = Depends(get_services)) -> dict[str, Any]:
    """The seed's sync_status rows: state, last sync, error, cursor and row counts."""
    rows = await all_sync_status(services.store)
    return {"items": rows}
