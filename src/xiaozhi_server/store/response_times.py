"""Response times: how long after a user turn the agent's reply began.

A reply is what follows a user turn in its session until the next user turn; its response
time runs from the user turn to the reply's first agent sentence (the core reports a reply
one TTS sentence per row, by report time). A user turn that got no agent sentence has no
response time. Per agent (the user turn's) and local day (of the user turn): how many
replies, and the 50th and 95th percentile (nearest rank, so always a time that occurred).
"""

from __future__ import annotations

import math
import zoneinfo
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, select

from xiaozhi_server.domain import ChatType
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import messages

# A reply may begin after the range ends: its sentences are read this much further.
REPLY_WITHIN = timedelta(minutes=10)


async def response_times(
    store: Store, since: datetime, until: datetime, zone: zoneinfo.ZoneInfo
) -> list[dict[str, Any]]:
    """Per local day in ``zone`` and agent, for user turns in [since, until): ``replies``,
    ``p50_ms`` and ``p95_ms``; oldest day first, agents by id (unknown agent first)."""
    samples: dict[tuple[date, str | None], list[int]] = defaultdict(list)
    for agent_id, asked_at, answered_at in await _replies(store, since, until):
        day = asked_at.astimezone(zone).date()
        samples[(day, agent_id)].append(_millis(answered_at - asked_at))
    return [
        {
            "day": day.isoformat(),
            "agent_id": agent_id,
            "replies": len(values),
            "p50_ms": percentile(values, 50),
            "p95_ms": percentile(values, 95),
        }
        for (day, agent_id), values in sorted(samples.items(), key=_order)
    ]


def percentile(values: list[int], rank: int) -> int:
    """The nearest-rank ``rank``th percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(rank / 100 * len(ordered)), 1) - 1]


async def _replies(
    store: Store, since: datetime, until: datetime
) -> list[tuple[str | None, datetime, datetime]]:
    """(agent, user turn's time, first agent sentence's time) per answered user turn."""
    spoken = messages.c.chat_type.in_((int(ChatType.USER), int(ChatType.AGENT)))
    is_user = messages.c.chat_type == int(ChatType.USER)
    # Every row's turn: how many user turns its session had up to it (0: before the first).
    turn = func.sum(case((is_user, 1), else_=0)).over(
        partition_by=messages.c.session_id,
        order_by=(messages.c.created_at, messages.c.id),
        rows=(None, 0),
    )
    numbered = (
        select(
            messages.c.session_id,
            messages.c.agent_id,
            messages.c.chat_type,
            messages.c.created_at,
            turn.label("turn"),
        )
        .where(spoken, messages.c.created_at >= since, messages.c.created_at < _later(until))
        .subquery()
    )
    asked = func.min(case((numbered.c.chat_type == int(ChatType.USER), numbered.c.created_at)))
    answered = func.min(case((numbered.c.chat_type == int(ChatType.AGENT), numbered.c.created_at)))
    agent = func.max(case((numbered.c.chat_type == int(ChatType.USER), numbered.c.agent_id)))
    query = (
        select(agent, asked, answered)
        .where(numbered.c.turn > 0)
        .group_by(numbered.c.session_id, numbered.c.turn)
        .having(and_(asked < until, answered.is_not(None)))
    )
    async with store.read() as connection:
        return [(row[0], row[1], row[2]) for row in await connection.execute(query)]


def _later(until: datetime) -> datetime:
    try:
        return until + REPLY_WITHIN
    except OverflowError:
        return until


def _millis(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _order(item: tuple[tuple[date, str | None], list[int]]) -> tuple[date, bool, str]:
    (day, agent_id), _ = item
    return day, agent_id is not None, agent_id or ""
