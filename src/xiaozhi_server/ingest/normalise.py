"""Validate and normalise records before they reach the store.

A record that cannot be stored is not fatal: it is reported with its reason and the
rest of the batch goes on (``Rejection``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TypeVar

from xiaozhi_server.domain import (
    AgentRecord,
    AudioRecord,
    Batch,
    ChatType,
    DeviceRecord,
    MessageRecord,
    TitleRecord,
)
from xiaozhi_server.ingest.speaker import split_speaker
from xiaozhi_server.store.tables import (
    AGENT_LEN,
    AUDIO_ID_LEN,
    DEVICE_LEN,
    SESSION_LEN,
    SOURCE_LEN,
    SPEAKER_LEN,
)

_MAC = re.compile(r"^[0-9a-fA-F]{2}([:\-]?)(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$")
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_CHAT_TYPES = {int(kind) for kind in ChatType}
# C0 controls and DEL carry no text; PostgreSQL cannot even store NUL. Tab and newlines stay.
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ANY_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# printable ASCII without space at either end: an identifier with nothing to change
_PLAIN = re.compile(r"[!-~](?:[ -~]*[!-~])?")
R = TypeVar("R")


class InvalidRecord(ValueError):
    """A record that cannot be stored; the message names the field and the reason."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one record of a batch was not stored."""

    kind: str
    index: int
    reason: str


@functools.lru_cache(maxsize=65536)
def normalise_device(value: str) -> str:
    """A MAC in any case, with ':' or '-' or no separators → 'aa:bb:cc:dd:ee:ff'.

    Anything that is not a MAC is kept as given (trimmed): it is still a device id.
    """
    value = value.strip()
    if _MAC.match(value):
        digits = re.sub(r"[:\-]", "", value).lower()
        return ":".join(digits[i : i + 2] for i in range(0, 12, 2))
    return value


def normalise_batch(batch: Batch) -> tuple[Batch, list[Rejection]]:
    """Return the storable part of ``batch`` and a rejection for every other record."""
    rejected: list[Rejection] = []
    clean = Batch(
        messages=_accept("message", batch.messages, normalise_message, rejected),
        audio=_accept("audio", batch.audio, normalise_audio, rejected),
        devices=_accept("device", batch.devices, normalise_device_record, rejected),
        agents=_accept("agent", batch.agents, normalise_agent, rejected),
        titles=_accept("title", batch.titles, normalise_title, rejected),
        deletions=list(batch.deletions),
        on_delete=batch.on_delete,
        checkpoint=batch.checkpoint,
        recount_rollups=batch.recount_rollups,
    )
    return clean, rejected


def _accept(
    kind: str, records: list[R], normalise: Callable[[R], R], rejected: list[Rejection]
) -> list[R]:
    accepted: list[R] = []
    for index, record in enumerate(records):
        try:
            accepted.append(normalise(record))
        except InvalidRecord as exc:
            rejected.append(Rejection(kind, index, str(exc)))
    return accepted


def normalise_message(record: MessageRecord) -> MessageRecord:
    """A message with trimmed ids, a known chat type and a UTC millisecond time."""
    if record.chat_type not in _CHAT_TYPES or isinstance(record.chat_type, bool):
        raise InvalidRecord(
            f"chat_type: must be 1 (user), 2 (agent) or 3 (tool), not {record.chat_type!r}"
        )
    if not isinstance(record.content, str):
        raise InvalidRecord("content: must be text")
    _require_unicode("content", record.content)
    content = strip_controls(record.content)
    speaker, reported = record.speaker, record.reported_content
    if record.chat_type == ChatType.USER and speaker is None and reported is None:
        separated = separate_speaker(content)
        if separated is not None:
            reported = content  # the natural key keeps hashing the content as reported
            speaker, content = separated
    fields = (
        _identifier("device", normalise_device(_text("device", record.device)), DEVICE_LEN),
        _identifier("session_id", record.session_id, SESSION_LEN),
        content,
        utc_millis("created_at", record.created_at),
        _identifier("source", record.source, SOURCE_LEN),
        _optional_identifier("agent_id", record.agent_id, AGENT_LEN),
        _optional_identifier("audio_id", record.audio_id, AUDIO_ID_LEN),
        _optional_text("speaker", speaker, SPEAKER_LEN),
        reported,
    )
    unchanged = fields[3] is record.created_at and type(record.chat_type) is int  # UTC, an int
    if unchanged and fields == _normalised_fields(record):
        return record  # already normalised (a record object costs ~2 µs to build)
    device, session_id, content, created_at, source, agent_id, audio_id, speaker, reported = fields
    return MessageRecord(
        device=device,
        session_id=session_id,
        chat_type=int(record.chat_type),
        content=content,
        created_at=created_at,
        source=source,
        agent_id=agent_id,
        audio_id=audio_id,
        source_id=record.source_id,
        upstream_state=record.upstream_state,
        speaker=speaker,
        reported_content=reported,
    )


def _normalised_fields(record: MessageRecord) -> tuple[object, ...]:
    return (
        record.device,
        record.session_id,
        record.content,
        record.created_at,
        record.source,
        record.agent_id,
        record.audio_id,
        record.speaker,
        record.reported_content,
    )


def separate_speaker(content: str) -> tuple[str | None, str] | None:
    """A user turn's ``(speaker, text)`` without control characters, if its content is in
    the voiceprint form (``{"speaker": …, "content": …}``); None if it is anything else."""
    split = split_speaker(content)
    if split is None:
        return None
    speaker, text = split
    return strip_controls(speaker or "").strip() or None, strip_controls(text)


def normalise_audio(record: AudioRecord) -> AudioRecord:
    """Audio with a valid id and some bytes."""
    if not isinstance(record.data, bytes) or not record.data:
        raise InvalidRecord("audio: must be non-empty bytes")
    return replace(record, audio_id=_identifier("audio_id", record.audio_id, AUDIO_ID_LEN))


def normalise_device_record(record: DeviceRecord) -> DeviceRecord:
    """Device metadata keyed by its normalised MAC."""
    device = normalise_device(_text("device", record.device))
    connected = record.last_connected_at
    return replace(
        record,
        device=_identifier("device", device, DEVICE_LEN),
        upstream_id=_optional_identifier("upstream_id", record.upstream_id, 32),
        alias=_optional_text("alias", record.alias, 64),
        board=_optional_text("board", record.board, 50),
        app_version=_optional_text("app_version", record.app_version, 20),
        agent_id=_optional_identifier("agent_id", record.agent_id, AGENT_LEN),
        last_connected_at=None if connected is None else utc_millis("last_connected_at", connected),
    )


def normalise_agent(record: AgentRecord) -> AgentRecord:
    """An agent with a valid id and a known recording setting."""
    if record.chat_history_conf not in (None, 0, 1, 2):
        raise InvalidRecord("chat_history_conf: must be 0, 1 or 2")
    return replace(
        record,
        agent_id=_identifier("agent_id", record.agent_id, AGENT_LEN),
        name=_optional_text("name", record.name, 64),
    )


def normalise_title(record: TitleRecord) -> TitleRecord:
    """A session title of at most 255 characters."""
    title = _optional_text("title", record.title, 255)
    if title is None:
        raise InvalidRecord("title: must be text")
    return replace(
        record, session_id=_identifier("session_id", record.session_id, SESSION_LEN), title=title
    )


def strip_controls(text: str) -> str:
    """``text`` without control characters other than tab, line feed and carriage return."""
    return _CONTROLS.sub("", text) if _CONTROLS.search(text) else text


def utc_millis(field: str, moment: datetime) -> datetime:
    """``moment`` in UTC, truncated to milliseconds, within years 2000-2099."""
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise InvalidRecord(f"{field}: must be a timezone-aware datetime")
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    if not _EARLIEST <= moment < _LATEST:
        raise InvalidRecord(f"{field}: {moment.isoformat()} is outside 2000-2099")
    extra = moment.microsecond % 1000
    return moment.replace(microsecond=moment.microsecond - extra) if extra else moment


def _text(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidRecord(f"{field}: must be text, not {type(value).__name__}")
    _require_unicode(field, value)
    return value


def _identifier(field: str, value: object, limit: int) -> str:
    if type(value) is str and len(value) <= limit and _PLAIN.fullmatch(value):
        return value  # printable ASCII, nothing to trim: the usual MAC, UUID or agent id
    text = _text(field, value).strip()
    if not text:
        raise InvalidRecord(f"{field}: must not be blank")
    if len(text) > limit:
        raise InvalidRecord(f"{field}: longer than {limit} characters")
    if _ANY_CONTROL.search(text):
        raise InvalidRecord(f"{field}: must not contain control characters")
    return text


def _optional_identifier(field: str, value: object, limit: int) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _identifier(field, value, limit)


def _optional_text(field: str, value: object, limit: int) -> str | None:
    if value is None:
        return None
    text = strip_controls(_text(field, value))
    if len(text) > limit:
        raise InvalidRecord(f"{field}: longer than {limit} characters")
    return text


def _require_unicode(field: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRecord(f"{field}: is not valid Unicode text") from None
