"""Erasure on request: preview and erase one session's, device's or agent's history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel
from starlette.requests import Request

from xiaozhi_server.api.contract import errors
from xiaozhi_server.api.errors import not_found
from xiaozhi_server.api.params import AgentPath, DevicePath, SessionPath
from xiaozhi_server.auth.guard import Principal, client_address, require_admin
from xiaozhi_server.privacy import erasure
from xiaozhi_server.privacy.erasure import Kind
from xiaozhi_server.services import Services, get_services

# The answers each target's preview and erasure share: a bad id, or one the store never saw.
_UNKNOWN_SESSION = errors(400, 404, not_found="No session with this id.")
_UNKNOWN_DEVICE = errors(400, 404, not_found="No device with this MAC or upstream id.")
_UNKNOWN_AGENT = errors(400, 404, not_found="No agent with this id.")

router = APIRouter(prefix="/api/v2", tags=["erasure"], dependencies=[Depends(require_admin)])


class ErasureTarget(BaseModel):
    """What is (or would be) erased."""

    kind: Kind
    id: str
    label: str | None = None


class ErasureCounts(BaseModel):
    """How much: session rows, messages, audio clips and their bytes, device rows."""

    sessions: int
    messages: int
    audio: int
    audio_bytes: int
    devices: int


class ErasurePreview(BaseModel):
    """What erasing the target now would remove (nothing is changed)."""

    target: ErasureTarget
    would_erase: ErasureCounts


class ErasureReport(BaseModel):
    """What was erased, and when: records of the target created up to ``cutoff`` stay
    out of the store, whichever source brings them again; later turns are stored."""

    target: ErasureTarget
    erased: ErasureCounts
    erased_at: datetime


async def _target(services: Services, kind: Kind, identifier: str) -> erasure.Target:
    found = await erasure.find_target(services.store, kind, identifier)
    if found is None:
        raise not_found(f"{kind} {identifier!r}")
    return found


def _shown(target: erasure.Target) -> ErasureTarget:
    return ErasureTarget(kind=target.kind, id=target.key, label=target.label)


async def _preview(services: Services, kind: Kind, identifier: str) -> ErasurePreview:
    target = await _target(services, kind, identifier)
    counts = await erasure.preview(services.store, target)
    return ErasurePreview(target=_shown(target), would_erase=ErasureCounts(**counts.as_dict()))


async def _erase(
    request: Request, services: Services, principal: Principal, kind: Kind, identifier: str
) -> ErasureReport:
    target = await _target(services, kind, identifier)
    counts = await erasure.erase_and_record(
        services.store, target, principal.name, principal.kind, client_address(request)
    )
    return ErasureReport(
        target=_shown(target),
        erased=ErasureCounts(**counts.as_dict()),
        erased_at=datetime.now(UTC),
    )


@router.get(
    "/sessions/{session_id}/erasure",
    responses=_UNKNOWN_SESSION,
)
async def preview_session_erasure(
    session_id: Annotated[SessionPath, Path(description="session id")],
    services: Services = Depends(get_services),
) -> ErasurePreview:
    """What ``DELETE /api/v2/sessions/{id}`` would erase."""
    return await _preview(services, "session", session_id)


@router.delete("/sessions/{session_id}", responses=_UNKNOWN_SESSION)
async def erase_session(
    session_id: Annotated[SessionPath, Path(description="session id")],
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_admin),
) -> ErasureReport:
    """Erase one session: its messages, audio, search entries and statistics."""
    return await _erase(request, services, principal, "session", session_id)


@router.get(
    "/devices/{device_id}/erasure",
    responses=_UNKNOWN_DEVICE,
)
async def preview_device_erasure(
    device_id: Annotated[DevicePath, Path(description="device id")],
    services: Services = Depends(get_services),
) -> ErasurePreview:
    """What ``DELETE /api/v2/devices/{mac}`` would erase."""
    return await _preview(services, "device", device_id)


@router.delete(
    "/devices/{device_id}",
    responses=_UNKNOWN_DEVICE,
)
async def erase_device(
    device_id: Annotated[DevicePath, Path(description="device id")],
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_admin),
) -> ErasureReport:
    """Erase one device (MAC in any spelling, or upstream device id): its whole history
    and its row."""
    return await _erase(request, services, principal, "device", device_id)


@router.get("/agents/{agent_id}/erasure", responses=_UNKNOWN_AGENT)
async def preview_agent_erasure(
    agent_id: Annotated[AgentPath, Path(description="agent id")],
    services: Services = Depends(get_services),
) -> ErasurePreview:
    """What ``DELETE /api/v2/agents/{id}`` would erase."""
    return await _preview(services, "agent", agent_id)


@router.delete("/agents/{agent_id}", responses=_UNKNOWN_AGENT)
async def erase_agent(
    agent_id: Annotated[AgentPath, Path(description="agent id")],
    request: Request,
    services: Services = Depends(get_services),
    principal: Principal = Depends(require_admin),
) -> ErasureReport:
    """Erase one agent's whole history (also turns its devices reported without an agent
    id); the agent's name and settings stay."""
    return await _erase(request, services, principal, "agent", agent_id)
