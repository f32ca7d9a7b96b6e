"""``GET /api/v2/features``: the effective state of every capability."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends

from xiaozhi_server.api.contract import READER
from xiaozhi_server.api.schemas import Features
from xiaozhi_server.ops.features import effective_features
from xiaozhi_server.services import Services, get_services

router = APIRouter(prefix="/api/v2", tags=["operations"], dependencies=READER)


@router.get("/features", response_model=Features, response_model_exclude_unset=True)
async def features(services: Services = Depends(get_services)) -> dict[str, Any]:
    """Each capability with ``enabled`` and, when off, the ``reason``."""
    states = effective_features(services.settings)
    return {"features": {name: asdict(state) for name, state in states.items()}}
