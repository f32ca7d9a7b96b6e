"""What the xiaozhi core sends to manager-api, byte for byte in shape (UPSTREAM.md)."""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import uuid
import wave
from typing import Any

SECRET = "core-secret-1234"


def wav_bytes(samples: int = 1600) -> bytes:
    """A real 16 kHz mono 16-bit WAV, as the core records."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(b"".join(struct.pack("<h", (i * 37) % 2000 - 1000) for i in range(samples)))
    return buffer.getvalue()


def report_body(
    mac: str = "A0:85:E3:12:34:56",
    session_id: str | None = None,
    chat_type: int = 1,
    content: str = "小智，今天天气怎么样？",
    audio: bytes | None = None,
    report_time: int | None = None,
) -> dict[str, Any]:
    """The camelCase body of one report, with reportTime in milliseconds like the core."""
    return {
        "macAddress": mac,
        "sessionId": session_id or str(uuid.uuid4()),
        "chatType": chat_type,
        "content": content,
        "audioBase64": base64.b64encode(audio).decode() if audio else None,
        "reportTime": report_time if report_time is not None else int(time.time() * 1000),
    }


def report_headers(secret: str = SECRET) -> dict[str, str]:
    """The core's headers: the server secret as a Bearer token, JSON content."""
    return {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}


def encoded(body: dict[str, Any]) -> bytes:
    """The body as the core's JSON encoder writes it."""
    return json.dumps(body, ensure_ascii=False).encode()
