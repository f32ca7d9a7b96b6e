"""Recorded audio, with HTTP range requests so players can seek."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Response

from xiaozhi_server.api.contract import READER, errors
from xiaozhi_server.api.errors import ApiError, not_found
from xiaozhi_server.api.params import AudioPath
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store.audio import get_audio

router = APIRouter(prefix="/api/v2", tags=["audio"], dependencies=READER)
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
_WAV = {"audio/wav": {"schema": {"type": "string", "format": "binary"}}}
_CACHING = {
    "Accept-Ranges": {"description": "bytes", "schema": {"type": "string"}},
    "Cache-Control": {"description": "private, max-age=86400", "schema": {"type": "string"}},
}
_SLICE = {
    "Content-Range": {
        "description": "bytes START-END/SIZE",
        "schema": {"type": "string"},
        "required": True,
    }
}


@router.get(
    "/audio/{audio_id}",
    response_class=Response,
    responses={
        200: {"description": "The whole recording.", "content": _WAV, "headers": _CACHING},
        206: {
            "description": "The requested byte range.",
            "content": _WAV,
            "headers": _CACHING | _SLICE,
        },
        **errors(400, 404, 416, not_found="No recording with this id."),
    },
)
async def audio(
    audio_id: Annotated[AudioPath, Path(description="audio id")],
    services: Services = Depends(get_services),
    range_: Annotated[
        str | None,
        Header(
            alias="range",
            max_length=100,
            description="bytes=START-END, bytes=START- or bytes=-LAST_N; anything else is 416",
        ),
    ] = None,
) -> Response:
    """The WAV (``audio/wav``); a ``Range: bytes=a-b`` request gets 206 with that slice."""
    row = await get_audio(services.store, audio_id)
    if row is None:
        raise not_found(f"audio {audio_id!r}")
    return recording(row, range_)


def recording(row: dict[str, Any], range_: str | None) -> Response:
    """A stored recording as an answer: whole, or the slice a Range header asks for (206)."""
    data: bytes = row["data"]
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=86400"}
    if range_ is None:
        return Response(data, media_type=row["content_type"], headers=headers)
    start, end = _byte_range(range_, len(data))
    headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
    return Response(data[start : end + 1], 206, media_type=row["content_type"], headers=headers)


def _byte_range(header: str, size: int) -> tuple[int, int]:
    match = _RANGE.match(header.strip())
    if not match or match.groups() == ("", ""):
        raise ApiError(416, f"Range: expected bytes=START-END within 0-{size - 1}", "Range")
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise ApiError(416, f"Range: bytes {header} not within 0-{size - 1}", "Range")
    return start, end
