"""Stored audio."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import audio


async def get_audio(store: Store, audio_id: str) -> dict[str, Any] | None:
    """The WAV bytes and content type of ``audio_id``, or None."""
    async with store.read() as connection:
        row = (await connection.execute(select(audio).where(audio.c.audio_id == audio_id))).first()
    return dict(row._mapping) if row else None
