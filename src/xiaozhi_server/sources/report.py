"""The core's chat-history report, exactly as manager-api receives it.

``POST {prefix}/agent/chat-history/report`` with a camelCase JSON body (macAddress,
sessionId, chatType, content, audioBase64, reportTime). This module turns one body into
domain records or a ``ReportError`` naming the field.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from xiaozhi_server.domain import AudioRecord, Batch, MessageRecord
from xiaozhi_server.ingest.natural_key import natural_key
from xiaozhi_server.ingest.normalise import normalise_device, strip_controls
from xiaozhi_server.untrusted_json import JsonTextError, parse_json

SOURCE = "report"
# reportTime below this is seconds (10 digits), at or above it milliseconds (13 digits).
_MILLIS_FROM = 100_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ReportError(ValueError):
    """A report that cannot be stored; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class ReportLimits:
    """How large a report may be."""

    max_content_chars: int
    max_audio_bytes: int


def parse_report(body: bytes, limits: ReportLimits, now: datetime | None = None) -> Batch:
    """The records one report body stands for; raise ReportError if it is not acceptable."""
    try:
        data = parse_json(body)
    except JsonTextError as exc:
        raise ReportError(f"body: {exc}") from None
    if not isinstance(data, dict):
        raise ReportError("body: must be a JSON object")
    chat_type = _chat_type(data.get("chatType"))
    content = _required_text(data, "content", cleaned=True)
    if len(content) > limits.max_content_chars:
        raise ReportError(f"content: longer than {limits.max_content_chars} characters", 413)
    audio = _audio(data.get("audioBase64"), limits.max_audio_bytes)
    message = MessageRecord(
        device=_required_text(data, "macAddress", 64),
        session_id=_required_text(data, "sessionId", 64),
        chat_type=chat_type,
        content=content,
        created_at=_report_time(data.get("reportTime"), now or datetime.now(UTC)),
        source=SOURCE,
    )
    if audio is None:
        return Batch(messages=[message])
    # Derived from the turn, so the core's retry of the same turn names the same audio.
    audio_id = _turn_key(message)[:32]
    return Batch(
        messages=[replace(message, audio_id=audio_id)], audio=[AudioRecord(audio_id, audio)]
    )


def _turn_key(message: MessageRecord) -> str:
    device = normalise_device(message.device)
    moment = message.created_at.replace(microsecond=message.created_at.microsecond // 1000 * 1000)
    return natural_key(
        device, message.session_id.strip(), message.chat_type, moment, message.content
    )


def _required_text(
    data: dict[str, Any], field: str, limit: int | None = None, cleaned: bool = False
) -> str:
    value = data.get(field)
    if value is None:
        raise ReportError(f"{field}: is required")
    if not isinstance(value, str):
        raise ReportError(f"{field}: must be a string, not {_json_type(value)}")
    if cleaned:
        # Control characters are dropped (documented): the rest of the text is the turn.
        value = strip_controls(value)
    elif _CONTROL.search(value):
        raise ReportError(f"{field}: must not contain control characters")
    if not value.strip():
        raise ReportError(f"{field}: must not be blank")
    if limit is not None and len(value.strip()) > limit:
        raise ReportError(f"{field}: longer than {limit} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ReportError(f"{field}: is not valid Unicode text") from None
    return value


def _chat_type(value: Any) -> int:
    if value is None:
        raise ReportError("chatType: is required")
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReportError(f"chatType: must be an integer, not {_json_type(value)}")
    if value not in (1, 2, 3):
        raise ReportError(f"chatType: must be 1 (user), 2 (agent) or 3 (tool), not {value}")
    return value


def _report_time(value: Any, now: datetime) -> datetime:
    if value is None:
        return now
    if isinstance(value, bool) or not isinstance(value, int):
        raise ReportError(
            f"reportTime: must be an integer (epoch ms or s), not {_json_type(value)}"
        )
    millis = value if abs(value) >= _MILLIS_FROM else value * 1000
    try:
        # Integer arithmetic: the turn's millisecond is part of its natural key.
        moment = _EPOCH + timedelta(milliseconds=millis)
    except OverflowError:
        moment = _LATEST
    if not _EARLIEST <= moment < _LATEST:
        raise ReportError(f"reportTime: {value} is outside 2000-2099 (epoch ms or s)")
    return moment


def _audio(value: Any, limit: int) -> bytes | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ReportError(f"audioBase64: must be a string or null, not {_json_type(value)}")
    if len(value) > (limit + 2) // 3 * 4 + 4:
        raise ReportError(f"audioBase64: audio larger than {limit} bytes", 413)
    try:
        audio = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ReportError("audioBase64: is not valid base64") from None
    if len(audio) > limit:
        raise ReportError(f"audioBase64: audio larger than {limit} bytes", 413)
    if len(audio) < 12 or audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        raise ReportError("audioBase64: is not a WAV file (no RIFF/WAVE header)")
    return audio


def _json_type(value: Any) -> str:
    names = {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }
    return "null" if value is None else names.get(type(value), type(value).__name__)
