"""Which messages an erasure or a retention rule covers, read in bounded batches.

A message's agent is its own ``agent_id`` or, when a source did not know it (the core's
report carries none), the agent its device is bound to. Each scope is split into parts
that an index can serve: a batch of a part finds its rows without re-reading the rows
earlier batches deleted; a part with exclusions is read in (created_at, id) order from
where the previous batch stopped, so excluded rows are passed over once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, exists, false, func, or_, select, true

from xiaozhi_server.store.tables import agents, audio, devices, messages, sessions

After = tuple[datetime, int]


@dataclass(frozen=True, slots=True)
class Part:
    """Messages matching ``condition``; ``ordered`` parts are read by keyset."""

    condition: ColumnElement[bool]
    ordered: bool = False


@dataclass(frozen=True, slots=True)
class RetentionRules:
    """One kind of retention (messages or audio) as days per device, per agent and default;
    ``overridden_devices``/``_agents`` have an override of their own (even null: for ever)."""

    devices: dict[str, int] = field(default_factory=dict)
    agents: dict[str, int] = field(default_factory=dict)
    default: int | None = None
    overridden_devices: frozenset[str] = frozenset()
    overridden_agents: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class RulePart:
    """A part of a retention rule: what it covers (``scope``: device, agent or default,
    ``key``), its days, and its messages."""

    scope: str
    key: str | None
    days: int
    part: Part


def bound_devices(connection: Connection, agent_ids: list[str]) -> list[str]:
    """Devices bound to these agents."""
    if not agent_ids:
        return []
    query = select(devices.c.mac).where(devices.c.agent_id.in_(agent_ids)).order_by(devices.c.mac)
    return [row.mac for row in connection.execute(query)]


def erasure_parts(connection: Connection, kind: str, key: str) -> list[Part]:
    """The messages of one session, one device or one agent."""
    if kind == "session":
        return [Part(messages.c.session_id == key)]
    if kind == "device":
        return [Part(messages.c.device == key)]
    own = [Part(messages.c.agent_id == key)]
    return own + [
        Part(and_(messages.c.device == mac, messages.c.agent_id.is_(None)))
        for mac in bound_devices(connection, [key])
    ]


def session_condition(connection: Connection, kind: str, key: str) -> ColumnElement[bool]:
    """The session rows of one session, one device or one agent."""
    if kind == "session":
        return sessions.c.session_id == key
    if kind == "device":
        return sessions.c.device == key
    macs = bound_devices(connection, [key])
    unowned = and_(sessions.c.agent_id.is_(None), sessions.c.device.in_(macs)) if macs else false()
    return or_(sessions.c.agent_id == key, unowned)


def retention_parts(connection: Connection, rules: RetentionRules) -> list[RulePart]:
    """Every part of every rule: per device, per agent (less devices with their own rule),
    then the default (less every device and agent with their own rule)."""
    parts = [
        RulePart("device", mac, days, Part(messages.c.device == mac))
        for mac, days in sorted(rules.devices.items())
    ]
    overridden_devices = sorted(rules.overridden_devices)
    for agent_id, days in sorted(rules.agents.items()):
        not_kept = messages.c.device.not_in(overridden_devices) if overridden_devices else true()
        parts.append(
            RulePart("agent", agent_id, days, Part(and_(messages.c.agent_id == agent_id, not_kept)))
        )
        for mac in bound_devices(connection, [agent_id]):
            if mac not in rules.overridden_devices:
                unowned = and_(messages.c.device == mac, messages.c.agent_id.is_(None))
                parts.append(RulePart("agent", agent_id, days, Part(unowned)))
    if rules.default is not None:
        parts.append(
            RulePart("default", None, rules.default, Part(_default(connection, rules), True))
        )
    return parts


def _default(connection: Connection, rules: RetentionRules) -> ColumnElement[bool]:
    overridden_agents = sorted(rules.overridden_agents)
    conditions: list[ColumnElement[bool]] = []
    if rules.overridden_devices:
        conditions.append(messages.c.device.not_in(sorted(rules.overridden_devices)))
    if overridden_agents:
        bound = bound_devices(connection, overridden_agents)
        conditions.append(
            or_(messages.c.agent_id.is_(None), messages.c.agent_id.not_in(overridden_agents))
        )
        if bound:
            conditions.append(
                or_(messages.c.agent_id.is_not(None), messages.c.device.not_in(bound))
            )
    return and_(true(), *conditions)


_BATCH_COLUMNS = (
    messages.c.id,
    messages.c.created_at,
    messages.c.session_id,
    messages.c.device,
    messages.c.audio_id,
)


def select_batch(
    connection: Connection,
    part: Part,
    before: datetime,
    limit: int,
    after: After | None = None,
    with_audio: bool = False,
) -> list[Any]:
    """Up to ``limit`` of the part's messages created before ``before`` (with audio only,
    if ``with_audio``): id, created_at, session_id, device and audio_id, locked for this
    transaction where rows can be."""
    query = select(*_BATCH_COLUMNS).where(part.condition, messages.c.created_at < before)
    if with_audio:
        query = query.where(messages.c.audio_id.is_not(None))
    if part.ordered:
        query = query.order_by(messages.c.created_at, messages.c.id)
        if after is not None:
            moment, last_id = after
            # The first term bounds the index range; an OR alone made SQLite merge two
            # index scans and sort everything after the keyset, batch after batch.
            query = query.where(
                messages.c.created_at >= moment,
                or_(messages.c.created_at > moment, messages.c.id > last_id),
            )
    query = query.limit(limit)
    if connection.dialect.name != "sqlite":
        # two purges (an erasure during a retention pass) never count the same row twice
        query = query.with_for_update()
    return list(connection.execute(query).all())


def count_by_owner(
    connection: Connection, part: Part, before: datetime, with_audio: bool = False
) -> Counter[tuple[str, str | None]]:
    """Messages of the part created before ``before``, per (device, agent_id as stored)."""
    query = (
        select(messages.c.device, messages.c.agent_id, func.count())
        .where(part.condition, messages.c.created_at < before)
        .group_by(messages.c.device, messages.c.agent_id)
    )
    if with_audio:
        query = query.where(messages.c.audio_id.is_not(None))
    return Counter({(row[0], row[1]): int(row[2]) for row in connection.execute(query)})


def device_agents(connection: Connection, macs: list[str]) -> dict[str, str | None]:
    """The agent each of these devices is bound to."""
    found: dict[str, str | None] = {}
    for start in range(0, len(macs), 500):
        part = macs[start : start + 500]
        query = select(devices.c.mac, devices.c.agent_id).where(devices.c.mac.in_(part))
        found.update((row.mac, row.agent_id) for row in connection.execute(query))
    return found


def scope_totals(
    connection: Connection, parts: list[Part], before: datetime | None = None
) -> dict[str, int]:
    """Messages, distinct audio clips and their bytes across ``parts`` (created before
    ``before``, if given)."""
    total = {"messages": 0, "audio": 0, "audio_bytes": 0}
    for part in parts:
        condition = part.condition
        if before is not None:
            condition = and_(condition, messages.c.created_at < before)
        total["messages"] += int(
            connection.execute(select(func.count()).where(condition)).scalar_one()
        )
        clips = select(messages.c.audio_id).where(condition, messages.c.audio_id.is_not(None))
        sizes = connection.execute(
            select(func.count(), func.coalesce(func.sum(audio.c.size_bytes), 0)).where(
                audio.c.audio_id.in_(clips)
            )
        ).one()
        total["audio"] += int(sizes[0])
        total["audio_bytes"] += int(sizes[1])
    return total


def count_sessions(connection: Connection, condition: ColumnElement[bool]) -> int:
    """Session rows matching ``condition``."""
    return int(
        connection.execute(select(func.count()).select_from(sessions).where(condition)).scalar_one()
    )


def session_ids(connection: Connection, condition: ColumnElement[bool]) -> list[str]:
    """Ids of the session rows matching ``condition``."""
    query = select(sessions.c.session_id).where(condition)
    return [row.session_id for row in connection.execute(query)]


def empty_sessions(connection: Connection, kind: str, key: str) -> list[str]:
    """The session rows of one session, device or agent that have no messages (left)."""
    condition = session_condition(connection, kind, key)
    return session_ids(connection, and_(condition, sessions.c.message_count == 0))


def scope_sessions(connection: Connection, kind: str, key: str, parts: list[Part]) -> set[str]:
    """Every session an erasure of one session, device or agent covers: its session rows and
    the sessions of its messages (``parts``)."""
    covered = set(session_ids(connection, session_condition(connection, kind, key)))
    for part in parts:
        query = select(messages.c.session_id).where(part.condition).distinct()
        covered.update(row.session_id for row in connection.execute(query))
    return covered


def latest_message(connection: Connection, parts: list[Part]) -> datetime | None:
    """The newest created_at across ``parts``."""
    newest: datetime | None = None
    for part in parts:
        moment = connection.execute(
            select(func.max(messages.c.created_at)).where(part.condition)
        ).scalar_one()
        if moment is not None and (newest is None or moment > newest):
            newest = moment
    return newest


def label(connection: Connection, kind: str, key: str) -> tuple[bool, str | None]:
    """Whether the store knows this session or agent, and its title or name."""
    if kind == "session":
        query = select(sessions.c.title).where(sessions.c.session_id == key)
        row = connection.execute(query).first()
        return row is not None, row.title if row else None
    name = connection.execute(select(agents.c.name).where(agents.c.agent_id == key)).first()
    if name is not None:
        return True, name.name
    history = select(exists().where(messages.c.agent_id == key))
    return bool(connection.execute(history).scalar()), None


def device_has_messages(connection: Connection, mac: str) -> bool:
    """True if any message of the device is stored."""
    return bool(connection.execute(select(exists().where(messages.c.device == mac))).scalar())
