"""What of a batch the store may take: checked on the one write path, so every source obeys.

- **Erased** (a tombstone of the message's session, device or agent with a cutoff at or
  after the message's time): the message is withheld, whoever sends it — a sync reading a
  row the upstream still has, a core retrying an old turn, an import. A turn *after* the
  erasure is new history and is stored. A title or device metadata of an erased session or
  device is withheld until a new turn brings that session or device back.
- **Expired** (older than its retention): withheld, so a re-read of old upstream rows does
  not refill what retention deleted; audio past its retention is dropped, the text kept.
- **Audio not allowed** (the opt-out, or an agent the upstream records text-only): the text
  is stored without its audio id and the bytes are never written.

The write path's batches arrive prepared (ingest/prepare.py: messages as rows). When no
tombstone concerns a batch and no message retention is set (the usual case, and a first
copy's), only the rows with audio are looked at one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from xiaozhi_server.domain import Batch, DeviceRecord, TitleRecord
from xiaozhi_server.ingest.prepare import MessageRow, PreparedBatch
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.store import erasures, writes
from xiaozhi_server.store.tables import agents, devices, sessions
from xiaozhi_server.store.types import from_utc_text
from xiaozhi_server.store.writes import MESSAGE_COLUMNS

# (kind, reason) → records withheld, e.g. ("message", "erased"), ("audio", "opt_out")
Withheld = Counter[tuple[str, str]]
_DEVICE, _AGENT, _SESSION, _AUDIO, _CREATED = (
    MESSAGE_COLUMNS.index(name)
    for name in ("device", "agent_id", "session_id", "audio_id", "created_at")
)


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose a message is: enough to decide on it."""

    device: str
    session_id: str
    agent_id: str | None
    created_at: datetime
    audio: bool = False


@dataclass(slots=True)
class Concerns:
    """What a batch's decisions depend on: its messages' sessions and devices, the devices
    a message names without its agent, and (agent, device) of each message with audio."""

    sessions: set[str]
    devices: set[str]
    unbound: set[str]
    voiced: set[tuple[str | None, str]]

    @classmethod
    def of_owners(cls, owners: Sequence[Owner]) -> Concerns:
        """The concerns of these messages."""
        return cls(
            {o.session_id for o in owners},
            {o.device for o in owners},
            {o.device for o in owners if o.agent_id is None},
            {(o.agent_id, o.device) for o in owners if o.audio},
        )

    @classmethod
    def of_rows(cls, rows: Sequence[MessageRow]) -> Concerns:
        """The concerns of these prepared message rows."""
        return cls(
            {r[_SESSION] for r in rows},
            {r[_DEVICE] for r in rows},
            {r[_DEVICE] for r in rows if r[_AGENT] is None},
            {(r[_AGENT], r[_DEVICE]) for r in rows if r[_AUDIO]},
        )


@dataclass(slots=True)
class Verdict:
    """What admission did to a prepared batch: counts of what it withheld, and where the
    rows it kept were in the batch as it came (for the caller, who holds that batch)."""

    withheld: Withheld = field(default_factory=Counter)
    # kept row i was the batch's row origins[i]; None: every row was kept
    origins: list[int] | None = None
    # positions (in the batch as it came) of rows stored without their audio id
    audio_cleared: frozenset[int] = frozenset()

    def original(self, positions: Sequence[int]) -> Sequence[int]:
        """Positions in the admitted batch as positions in the batch as it came."""
        if self.origins is None:
            return positions
        origins = self.origins
        return [origins[at] for at in positions]


class Admission:
    """The decisions for one batch (or one page of an import), from what the store holds."""

    def __init__(
        self,
        policy: DataPolicy,
        now: datetime,
        tombstones: erasures.Tombstones,
        bindings: dict[str, str | None],
        confs: dict[str, int | None],
    ) -> None:
        self._policy = policy
        self._now = now
        self._tombstones = tombstones
        self._bindings = bindings
        self._confs = confs

    @classmethod
    def load(
        cls,
        connection: Connection,
        policy: DataPolicy,
        now: datetime,
        concerns: Concerns,
        batch: Batch | PreparedBatch | None = None,
    ) -> Admission:
        """Read the tombstones, device bindings and agent settings the ``concerns`` of a
        batch need; what ``batch`` itself says about devices and agents comes first."""
        batch = batch or Batch()
        tombstones = erasures.find(
            connection,
            concerns.sessions.union(t.session_id for t in batch.titles),
            concerns.devices.union(d.device for d in batch.devices),
        )
        bindings: dict[str, str | None] = {
            d.device: d.agent_id for d in batch.devices if d.agent_id
        }
        unbound = sorted(concerns.unbound - set(bindings))
        if unbound and (policy.needs_agents or any(kind == "agent" for kind, _ in tombstones)):
            bindings |= _bindings(connection, unbound)
        confs: dict[str, int | None] = {
            a.agent_id: a.chat_history_conf for a in batch.agents if a.chat_history_conf is not None
        }
        admission = cls(policy, now, tombstones, bindings, confs)
        # an agent's recording setting matters only for turns with audio
        voiced = {agent_id or bindings.get(device) for agent_id, device in concerns.voiced}
        admission._confs |= _confs(connection, sorted(a for a in voiced - set(confs) if a))
        return admission

    @property
    def judges_every_message(self) -> bool:
        """False when no erasure concerns the batch and no message retention is set: then
        only a message's audio can be refused."""
        return bool(self._tombstones) or self._policy.expires_messages

    def agent_of(self, owner: Owner) -> str | None:
        """The message's agent, or its device's when the source did not say."""
        return owner.agent_id or self._bindings.get(owner.device)

    def erased(self, owner: Owner) -> bool:
        """True if an erasure covers this message."""
        keys = [("session", owner.session_id), ("device", owner.device)]
        agent_id = self.agent_of(owner)
        if agent_id is not None:
            keys.append(("agent", agent_id))
        return any(
            cutoff is not None and owner.created_at <= cutoff
            for cutoff in (self._tombstones.get(key) for key in keys)
        )

    def expired(self, owner: Owner, kind: str = "messages") -> bool:
        """True if the message (or, with ``kind`` audio, its audio) is past retention."""
        return self._policy.expired(
            kind, owner.device, self.agent_of(owner), owner.created_at, self._now
        )

    def audio_refusal(self, owner: Owner) -> str | None:
        """Why the message's audio may not be stored ("opt_out", "retention"), or None."""
        agent_id = self.agent_of(owner)
        if not self._policy.audio.allows(agent_id, self._confs.get(agent_id or "")):
            return "opt_out"
        return "retention" if self.expired(owner, "audio") else None

    def withholds_session(self, session_id: str) -> bool:
        """True if the session was erased (its title waits for a new turn)."""
        return ("session", session_id) in self._tombstones

    def withholds_device(self, mac: str) -> bool:
        """True if the device was erased (its metadata waits for a new turn)."""
        return ("device", mac) in self._tombstones


def admit(
    connection: Connection, batch: PreparedBatch, policy: DataPolicy, now: datetime
) -> tuple[PreparedBatch, Verdict]:
    """The part of a normalised, prepared ``batch`` the store may take, and the verdict."""
    verdict = Verdict()
    if not (batch.messages or batch.audio or batch.titles or batch.devices):
        return batch, verdict
    admission = Admission.load(connection, policy, now, Concerns.of_rows(batch.messages), batch)
    kept, cleared = _rows(batch, admission, verdict.withheld)
    admitted = batch
    if len(kept) < len(batch.messages) or cleared:
        admitted = batch.subset(kept, cleared)
        verdict.origins = kept if len(kept) < len(batch.messages) else None
        verdict.audio_cleared = frozenset(cleared)
    # audio is written only with a kept message that keeps its audio id
    with_audio = {row[_AUDIO] for row in admitted.messages if row[_AUDIO]}
    titles = _titles(connection, admission, batch.titles, admitted.messages)
    device_records = _devices(connection, admission, batch.devices, admitted.messages)
    verdict.withheld["title", "erased"] += len(batch.titles) - len(titles)
    verdict.withheld["device", "erased"] += len(batch.devices) - len(device_records)
    verdict.withheld = +verdict.withheld
    admitted = replace(
        admitted,
        audio=[a for a in batch.audio if a.audio_id in with_audio],
        titles=titles,
        devices=device_records,
    )
    return admitted, verdict


def _rows(
    batch: PreparedBatch, admission: Admission, withheld: Withheld
) -> tuple[list[int], set[int]]:
    """Positions of the rows kept, and of those kept without their audio id."""
    every = admission.judges_every_message
    kept: list[int] = []
    cleared: set[int] = set()
    for at, row in enumerate(batch.messages):
        if not every and row[_AUDIO] is None:
            kept.append(at)  # nothing to decide (most rows of most batches)
            continue
        owner = _row_owner(row)
        reason = _withholding(admission, owner) if every else None
        if reason is not None:
            withheld["message", reason] += batch.records_at(at)
            continue
        if row[_AUDIO] is not None:
            refusal = admission.audio_refusal(owner)
            if refusal is not None:
                withheld["audio", refusal] += 1
                # No longer the upstream's word on audio: a copy stored earlier keeps its own
                # (switching audio off deletes nothing; retention.audio_days does).
                cleared.add(at)
        kept.append(at)
    return kept, cleared


def _withholding(admission: Admission, owner: Owner) -> str | None:
    if admission.erased(owner):
        return "erased"
    return "retention" if admission.expired(owner) else None


def _titles(
    connection: Connection,
    admission: Admission,
    titles: list[TitleRecord],
    kept: Sequence[MessageRow],
) -> list[TitleRecord]:
    """Titles, less those of erased sessions no kept turn (or row stored since) brings back."""
    erased = {t.session_id for t in titles if admission.withholds_session(t.session_id)}
    if not erased:
        return titles
    rows = writes.rows_by_key(connection, sessions, sorted(erased))
    back = {m[_SESSION] for m in kept} | {row["session_id"] for row in rows}
    return [t for t in titles if t.session_id not in erased or t.session_id in back]


def _devices(
    connection: Connection,
    admission: Admission,
    records: list[DeviceRecord],
    kept: Sequence[MessageRow],
) -> list[DeviceRecord]:
    """Device metadata, less that of erased devices no kept turn (or row) brings back."""
    erased = {d.device for d in records if admission.withholds_device(d.device)}
    if not erased:
        return records
    rows = writes.rows_by_key(connection, devices, sorted(erased))
    back = {m[_DEVICE] for m in kept} | {row["mac"] for row in rows}
    return [d for d in records if d.device not in erased or d.device in back]


def _row_owner(row: MessageRow) -> Owner:
    return Owner(
        row[_DEVICE], row[_SESSION], row[_AGENT], from_utc_text(row[_CREATED]), bool(row[_AUDIO])
    )


def _bindings(connection: Connection, macs: list[str]) -> dict[str, str | None]:
    return {row["mac"]: row["agent_id"] for row in writes.rows_by_key(connection, devices, macs)}


def _confs(connection: Connection, agent_ids: list[str]) -> dict[str, int | None]:
    rows = writes.rows_by_key(connection, agents, agent_ids)
    return {row["agent_id"]: row["chat_history_conf"] for row in rows}


def admit_rows(
    connection: Connection, rows: list[dict[str, Any]], policy: DataPolicy, now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Stored-form message rows (an import's) split into those the store may take (audio
    ids cleared where audio may not be kept) and those withheld (erased or expired)."""
    owners = [
        Owner(r["device"], r["session_id"], r["agent_id"], r["created_at"], bool(r["audio_id"]))
        for r in rows
    ]
    admission = Admission.load(connection, policy, now, Concerns.of_owners(owners))
    kept: list[dict[str, Any]] = []
    withheld: list[dict[str, Any]] = []
    for row, owner in zip(rows, owners, strict=True):
        if admission.erased(owner) or admission.expired(owner):
            withheld.append(row)
            continue
        if row["audio_id"] is not None and admission.audio_refusal(owner) is not None:
            row = {**row, "audio_id": None}
        kept.append(row)
    return kept, withheld
