"""The query and path parameters the API shares: bounds, texts, times, zones and cursors.

Each is declared once, with its bounds in the OpenAPI document and a validator that
answers 400 (through the one error shape) for anything outside them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import zoneinfo
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, BeforeValidator, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

from xiaozhi_server.api.errors import bad_parameter
from xiaozhi_server.store.tables import (
    AGENT_LEN,
    AUDIO_ID_LEN,
    DEVICE_LEN,
    SESSION_LEN,
    SPEAKER_LEN,
)

MAX_PAGE = 100
MAX_OFFSET = 1_000_000_000
MAX_ID = 2**63 - 1  # the largest id a BIGINT holds
MAX_CURSOR = 512
MAX_QUERY = 200
TIME_ZONE_SCHEMA = "TimeZone"
# Text with no NUL: PostgreSQL refuses it in a string, and no stored id or title holds one.
NO_NUL = r"^[^\u0000]*$"
# Exactly the characters str.strip() removes (str.isspace()), spelled for JSON Schema too.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NOT_BLANK = rf"[^{_SPACE}]"
_CURSOR = r"^[A-Za-z0-9_-]*={0,2}$"
_EPOCH = re.compile(r"[0-9]{1,13}")
_ISO_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def page_limit(what: str) -> Any:
    """A page size query parameter: 1 to MAX_PAGE ``what``."""
    return Query(ge=1, le=MAX_PAGE, description=f"{what} per page (1 to {MAX_PAGE})")


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "must not contain NUL characters")
    return value


def _text_schema(max_length: int, min_length: int = 0) -> WithJsonSchema:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length, "pattern": NO_NUL}
    if min_length:
        schema["minLength"] = min_length
    return WithJsonSchema(schema)


def _blank_free(value: str) -> str:
    if not re.search(NOT_BLANK, value):
        raise PydanticCustomError("blank", "must contain a character other than spaces")
    return value


# Names of stored things: at most as long as their column, so longer ones are a 400.
DeviceRef = Annotated[
    str,
    StringConstraints(max_length=DEVICE_LEN),
    AfterValidator(_no_nul),
    _text_schema(DEVICE_LEN),
]
DevicePath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=DEVICE_LEN),
    AfterValidator(_no_nul),
    _text_schema(DEVICE_LEN, 1),
]
SessionRef = Annotated[
    str,
    StringConstraints(max_length=SESSION_LEN),
    AfterValidator(_no_nul),
    _text_schema(SESSION_LEN),
]
SessionPath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=SESSION_LEN),
    AfterValidator(_no_nul),
    _text_schema(SESSION_LEN, 1),
]
AgentRef = Annotated[
    str,
    StringConstraints(max_length=AGENT_LEN),
    AfterValidator(_no_nul),
    _text_schema(AGENT_LEN),
]
AgentPath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=AGENT_LEN),
    AfterValidator(_no_nul),
    _text_schema(AGENT_LEN, 1),
]
AudioPath = Annotated[
    str,
    StringConstraints(min_length=1, max_length=AUDIO_ID_LEN),
    AfterValidator(_no_nul),
    _text_schema(AUDIO_ID_LEN, 1),
]
# A speaker's name as voiceprint recognition gave it (exact match).
SpeakerName = Annotated[
    str,
    StringConstraints(max_length=SPEAKER_LEN),
    AfterValidator(_no_nul),
    _text_schema(SPEAKER_LEN),
]
# A "contains" filter over titles, aliases or MACs.
ContainsText = Annotated[
    str,
    StringConstraints(max_length=MAX_QUERY),
    AfterValidator(_no_nul),
    _text_schema(MAX_QUERY),
]
# Full-text search: something other than spaces, at most MAX_QUERY characters.
SearchText = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_QUERY),
    AfterValidator(_no_nul),
    AfterValidator(_blank_free),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_QUERY,
            "allOf": [{"pattern": NO_NUL}, {"pattern": NOT_BLANK}],
        }
    ),
]


def _cursor(value: Any) -> Any:
    if isinstance(value, str) and not re.fullmatch(_CURSOR, value):
        raise PydanticCustomError("cursor", "not a cursor this API returned")
    return value


# Opaque: only a next_cursor this API returned is valid; anything else is a 400.
Cursor = Annotated[
    str,
    StringConstraints(max_length=MAX_CURSOR),
    BeforeValidator(_cursor),
    WithJsonSchema({"type": "string", "maxLength": MAX_CURSOR, "pattern": _CURSOR}),
]


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time, a date or time without offset (read as UTC), or epoch seconds or
    milliseconds (up to 13 digits), as an aware UTC time; None for an empty value."""
    if value is None or isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise _bad_time()
    if value == "":
        return None
    if _EPOCH.fullmatch(value):
        number = int(value)
        return datetime.fromtimestamp(number / 1000 if number >= 100_000_000_000 else number, UTC)
    if not _ISO_TIME.fullmatch(value):
        raise _bad_time()
    try:
        moment = datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        raise _bad_time() from None
    return _in_utc(moment)


def _in_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        # Within a day of the first or last representable instant: before or after any
        # stored time, so the bound means the same as the earliest or latest one.
        return _EARLIEST if moment.year == 1 else _LATEST


def _bad_time() -> PydanticCustomError:
    return PydanticCustomError(
        "time", "expected an ISO-8601 time such as 2026-11-24T08:00:00Z, a date or epoch seconds"
    )


TIME_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date"},
        {"type": "string", "pattern": "^[0-9]{1,13}$", "description": "epoch s or ms"},
        {"type": "string", "maxLength": 0, "description": "empty: not given"},
    ],
    "description": "RFC 3339 time, a date (UTC midnight), epoch seconds or milliseconds; "
    "a time without an offset is read as UTC",
}
Time = Annotated[datetime | None, BeforeValidator(parse_time), WithJsonSchema(TIME_SCHEMA)]


@functools.cache
def time_zones() -> frozenset[str]:
    """Every IANA zone name this machine knows (what ``tz`` accepts)."""
    return frozenset(zoneinfo.available_timezones())


def parse_zone(value: Any) -> zoneinfo.ZoneInfo:
    """An IANA time zone by name."""
    if isinstance(value, zoneinfo.ZoneInfo):
        return value
    if not isinstance(value, str) or value not in time_zones():
        raise PydanticCustomError("time_zone", "expected an IANA time zone such as Asia/Shanghai")
    return zoneinfo.ZoneInfo(value)


Zone = Annotated[
    zoneinfo.ZoneInfo,
    BeforeValidator(parse_zone),
    WithJsonSchema({"$ref": f"#/components/schemas/{TIME_ZONE_SCHEMA}"}),
]


def encode_cursor(*parts: Any) -> str:
    """An opaque cursor for keyset pagination."""
    return base64.urlsafe_b64encode(json.dumps(parts, default=str).encode()).decode().rstrip("=")


def decode_cursor(value: str | None, size: int, parameter: str = "cursor") -> list[Any] | None:
    """The parts of a cursor made by ``encode_cursor``; 400 if it was not."""
    if not value:
        return None
    try:
        parts = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise bad_parameter(parameter, "not a cursor this API returned") from None
    if not isinstance(parts, list) or len(parts) != size:
        raise bad_parameter(parameter, "not a cursor this API returned")
    return parts


def localised(payload: dict[str, Any], zone: zoneinfo.ZoneInfo | None) -> dict[str, Any]:
    """``payload`` plus ``<field>_local`` for every time field, in ``zone``."""
    if zone is None:
        return payload
    extra = {
        f"{key}_local": value.astimezone(zone).isoformat(timespec="milliseconds")
        for key, value in payload.items()
        if isinstance(value, datetime)
    }
    return payload | extra
