"""Statistics per day (in a requested zone), per device or per agent."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Query

from xiaozhi_server.api.errors import bad_parameter
from xiaozhi_server.api.params import time_param, zone_param
from xiaozhi_server.auth.guard import require_admin
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import stats as stat_queries

router = APIRouter(prefix="/api/v2", tags=["statistics"], dependencies=[Depends(require_admin)])
MAX_DAYS = 366


@router.get("/stats")
async def stats(
    services: Services = Depends(get_services),
    group_by: str = Query("day", description="day, device or agent"),
    from_: str | None = Query(None, alias="from", description="default: 7 days before `to`"),
    to: str | None = Query(None, description="default: now"),
    tz: str = Query("UTC", description="zone whose days are counted"),
) -> dict[str, Any]:
    """Messages, sessions, active devices and tool calls per bucket; per device and per agent
    also ``audio_bytes``, the audio stored for those messages."""
    zone = zone_param(tz) or zoneinfo.ZoneInfo("UTC")
    until = time_param(to, "to") or datetime.now(UTC)
    since = time_param(from_, "from") or until - timedelta(days=7)
    if since >= until:
        raise bad_parameter("from", "must be before 'to'")
    if group_by == "day":
        buckets = await _per_day(services, since, until, zone)
    elif group_by in ("device", "agent"):
        buckets = await stat_queries.totals_by(services.store, group_by, since, until)
    else:
        raise bad_parameter("group_by", "expected day, device or agent")
    return {"group_by": group_by, "tz": str(zone), "from": since, "to": until, "buckets": buckets}


async def _per_day(
    services: Services, since: datetime, until: datetime, zone: zoneinfo.ZoneInfo
) -> list[dict[str, Any]]:
    """One bucket per local day; each day's bounds come from the zone, so DST days are right."""
    days = _local_days(since, until, zone)
    if len(days) > MAX_DAYS:
        raise bad_parameter("from", f"at most {MAX_DAYS} days per request")
    buckets = []
    for day in days:
        start = max(datetime.combine(day, time(), zone).astimezone(UTC), since)
        end = min(datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC), until)
        totals = await stat_queries.totals_between(services.store, start, end)
        buckets.append({"key": day.isoformat()} | totals)
    return buckets


def _local_days(since: datetime, until: datetime, zone: zoneinfo.ZoneInfo) -> list[date]:
    first = since.astimezone(zone).date()
    last = (until - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
