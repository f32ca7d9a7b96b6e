"""Parsing the query parameters the API shares: times, zones, page sizes and cursors."""

from __future__ import annotations

import base64
import binascii
import json
import zoneinfo
from datetime import UTC, datetime
from typing import Any

from xiaozhi_server.api.errors import bad_parameter

MAX_PAGE = 100


def page_size(value: int | None, default: int = 20, parameter: str = "limit") -> int:
    """A page size between 1 and MAX_PAGE."""
    if value is None:
        return default
    if not 1 <= value <= MAX_PAGE:
        raise bad_parameter(parameter, f"must be between 1 and {MAX_PAGE}")
    return value


def time_param(value: str | None, parameter: str) -> datetime | None:
    """An ISO-8601 time or date (naive means UTC) or epoch seconds/milliseconds."""
    if value is None or value == "":
        return None
    try:
        if value.isdigit():
            number = int(value)
            return datetime.fromtimestamp(
                number / 1000 if number >= 100_000_000_000 else number, UTC
            )
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise bad_parameter(
            parameter, "expected an ISO-8601 time such as 2026-11-24T08:00:00Z"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def zone_param(value: str | None, parameter: str = "tz") -> zoneinfo.ZoneInfo | None:
    """An IANA time zone, or None."""
    if not value:
        return None
    try:
        return zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise bad_parameter(parameter, "expected an IANA time zone such as Asia/Shanghai") from None


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
