"""Statistics per day (in a requested zone), per device or per agent."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query

from xiaozhi_server.api.contract import READER, errors
from xiaozhi_server.api.errors import bad_parameter
from xiaozhi_server.api.params import Time, Zone
from xiaozhi_server.api.schemas import Stats
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store import stats as stat_queries
from xiaozhi_server.store.response_times import response_times as reply_times

router = APIRouter(prefix="/api/v2", tags=["statistics"], dependencies=READER)
MAX_DAYS = 366


@router.get(
    "/stats",
    response_model=Stats,
    response_model_exclude_unset=True,
    responses=errors(400),
)
async def stats(
    services: Services = Depends(get_services),
    group_by: Literal["day", "device", "agent"] = "day",
    from_: Annotated[
        Time, Query(alias="from", description="default: 7 days before `to`; must be before `to`")
    ] = None,
    to: Annotated[Time, Query(description="default: now")] = None,
    tz: Annotated[
        Zone | None, Query(description="zone whose days are counted (default UTC)")
    ] = None,
    response_times: Annotated[
        bool, Query(description="add response_times: p50/p95 per agent and day")
    ] = False,
) -> dict[str, Any]:
    """Messages, sessions, active devices and tool calls per bucket; per device and per agent
    also ``audio_bytes``, the audio stored for those messages. With ``response_times``,
    also how long replies took to begin, per agent and local day.

    Per day, at most 366 days per request.
    """
    zone = tz or zoneinfo.ZoneInfo("UTC")
    until = to or datetime.now(UTC)
    since = from_ or _days_before(until, 7)
    if since >= until:
        raise bad_parameter("from", "must be before 'to'")
    if group_by == "day":
        buckets = await _per_day(services, since, until, zone)
    else:
        buckets = await stat_queries.totals_by(services.store, group_by, since, until)
    answer = {"group_by": group_by, "tz": str(zone), "from": since, "to": until, "buckets": buckets}
    if response_times:
        answer["response_times"] = await _response_times(services, since, until, zone)
    return answer


async def _response_times(
    services: Services, since: datetime, until: datetime, zone: zoneinfo.ZoneInfo
) -> list[dict[str, Any]]:
    """Per agent and local day (store/response_times.py), over at most MAX_DAYS days."""
    if until - since > timedelta(days=MAX_DAYS + 1):
        raise bad_parameter("from", f"at most {MAX_DAYS} days per request")
    return await reply_times(services.store, since, until, zone)


def _days_before(moment: datetime, days: int) -> datetime:
    try:
        return moment - timedelta(days=days)
    except OverflowError:
        return datetime.min.replace(tzinfo=UTC)


async def _per_day(
    services: Services, since: datetime, until: datetime, zone: zoneinfo.ZoneInfo
) -> list[dict[str, Any]]:
    """One bucket per local day; each day's bounds come from the zone, so DST days are right."""
    too_long = bad_parameter("from", f"at most {MAX_DAYS} days per request")
    # A cheap bound first: from year 1 to 9999 would be millions of days to list.
    if until - since > timedelta(days=MAX_DAYS + 2):
        raise too_long
    try:
        days = [(day, *_bounds(day, zone, since, until)) for day in _local_days(since, until, zone)]
    except OverflowError:
        raise bad_parameter("from", "too close to year 1 or 9999 to count in days") from None
    if len(days) > MAX_DAYS:
        raise too_long
    buckets = []
    for day, start, end in days:
        totals = await stat_queries.totals_between(services.store, start, end)
        buckets.append({"key": day.isoformat()} | totals)
    return buckets


def _local_days(since: datetime, until: datetime, zone: zoneinfo.ZoneInfo) -> list[date]:
    first = since.astimezone(zone).date()
    last = (until - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _bounds(
    day: date, zone: zoneinfo.ZoneInfo, since: datetime, until: datetime
) -> tuple[datetime, datetime]:
    """The part of [since, until) that falls on ``day`` in ``zone``."""
    start = max(datetime.combine(day, time(), zone).astimezone(UTC), since)
    end = min(datetime.combine(day + timedelta(days=1), time(), zone).astimezone(UTC), until)
    return start, end
