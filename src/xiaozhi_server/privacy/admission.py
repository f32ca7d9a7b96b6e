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
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from xiaozhi_server.domain import Batch, DeviceRecord, MessageRecord, TitleRecord
from xiaozhi_server.privacy.policy import DataPolicy
from xiaozhi_server.store import erasures, writes
from xiaozhi_server.store.tables import agents, devices, sessions

# (kind, reason) → records withheld, e.g. ("message", "erased"), ("audio", "opt_out")
Withheld = Counter[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose a message is: enough to decide on it."""

    device: str
    session_id: str
    agent_id: str | None
    created_at: datetime
    audio: bool = False


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
        owners: list[Owner],
        batch: Batch | None = None,
    ) -> Admission:
        """Read the tombstones, device bindings and agent settings ``owners`` need; what
        ``batch`` itself says about devices and agents comes first."""
        batch = batch or Batch()
        tombstones = erasures.find(
            connection,
            [o.session_id for o in owners] + [t.session_id for t in batch.titles],
            [o.device for o in owners] + [d.device for d in batch.devices],
        )
        bindings: dict[str, str | None] = {
            d.device: d.agent_id for d in batch.devices if d.agent_id
        }
        unbound = sorted({o.device for o in owners if o.agent_id is None} - set(bindings))
        if unbound and (policy.needs_agents or any(kind == "agent" for kind, _ in tombstones)):
            bindings |= _bindings(connection, unbound)
        confs: dict[str, int | None] = {
            a.agent_id: a.chat_history_conf for a in batch.agents if a.chat_history_conf is not None
        }
        admission = cls(policy, now, tombstones, bindings, confs)
        # an agent's recording setting matters only for turns with audio
        voiced = {admission.agent_of(o) for o in owners if o.audio}
        admission._confs |= _confs(connection, sorted(a for a in voiced - set(confs) if a))
        return admission

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
    connection: Connection, batch: Batch, policy: DataPolicy, now: datetime
) -> tuple[Batch, Withheld]:
    """The part of a normalised ``batch`` the store may take, and what was withheld."""
    withheld: Withheld = Counter()
    if not (batch.messages or batch.audio or batch.titles or batch.devices):
        return batch, withheld
    owners = [_owner(m) for m in batch.messages]
    admission = Admission.load(connection, policy, now, owners, batch)
    kept = _messages(batch.messages, owners, admission, withheld)
    # audio is written only with a kept message that keeps its audio id
    with_audio = {m.audio_id for m in kept if m.audio_id}
    titles = _titles(connection, admission, batch.titles, kept)
    device_records = _devices(connection, admission, batch.devices, kept)
    withheld["title", "erased"] += len(batch.titles) - len(titles)
    withheld["device", "erased"] += len(batch.devices) - len(device_records)
    admitted = replace(
        batch,
        messages=kept,
        audio=[a for a in batch.audio if a.audio_id in with_audio],
        titles=titles,
        devices=device_records,
    )
    return admitted, +withheld


def _messages(
    records: list[MessageRecord], owners: list[Owner], admission: Admission, withheld: Withheld
) -> list[MessageRecord]:
    kept: list[MessageRecord] = []
    for record, owner in zip(records, owners, strict=True):
        if admission.erased(owner):
            withheld["message", "erased"] += 1
            continue
        if admission.expired(owner):
            withheld["message", "retention"] += 1
            continue
        if record.audio_id is not None:
            refusal = admission.audio_refusal(owner)
            if refusal is not None:
                withheld["audio", refusal] += 1
                # No longer the upstream's word on audio: a copy stored earlier keeps its own
                # (switching audio off deletes nothing; retention.audio_days does).
                record = replace(record, audio_id=None, upstream_state=False)
        kept.append(record)
    return kept


def _titles(
    connection: Connection,
    admission: Admission,
    titles: list[TitleRecord],
    kept: list[MessageRecord],
) -> list[TitleRecord]:
    """Titles, less those of erased sessions no kept turn (or row stored since) brings back."""
    erased = {t.session_id for t in titles if admission.withholds_session(t.session_id)}
    if not erased:
        return titles
    rows = writes.rows_by_key(connection, sessions, sorted(erased))
    back = {m.session_id for m in kept} | {row["session_id"] for row in rows}
    return [t for t in titles if t.session_id not in erased or t.session_id in back]


def _devices(
    connection: Connection,
    admission: Admission,
    records: list[DeviceRecord],
    kept: list[MessageRecord],
) -> list[DeviceRecord]:
    """Device metadata, less that of erased devices no kept turn (or row) brings back."""
    erased = {d.device for d in records if admission.withholds_device(d.device)}
    if not erased:
        return records
    rows = writes.rows_by_key(connection, devices, sorted(erased))
    back = {m.device for m in kept} | {row["mac"] for row in rows}
    return [d for d in records if d.device not in erased or d.device in back]


def _owner(record: MessageRecord) -> Owner:
    return Owner(
        record.device, record.session_id, record.agent_id, record.created_at, bool(record.audio_id)
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
    admission = Admission.load(connection, policy, now, owners)
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
