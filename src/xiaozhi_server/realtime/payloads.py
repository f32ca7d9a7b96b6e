"""How a stored message looks in events, replays and the API, masked or as stored."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from xiaozhi_server.privacy.masking import Masker
from xiaozhi_server.realtime.bus import Event

# The text a person wrote or said, per event type: the only fields masking changes.
MASKED_FIELDS = {"chat_update": "content", "session_update": "title"}
_REMEMBERED_EVENTS = 1024


def message_payload(row: Mapping[str, Any]) -> dict[str, Any]:
    """A stored message without internal bookkeeping (natural key, ingest times)."""
    return {
        "id": row["id"],
        "device": row["device"],
        "session_id": row["session_id"],
        "agent_id": row["agent_id"],
        "chat_type": row["chat_type"],
        "speaker": row["speaker"],
        "content": row["content"],
        "audio_id": row["audio_id"],
        "created_at": row["created_at"],
        "source": row["source"],
    }


def masked_payload(kind: str, data: Mapping[str, Any], masker: Masker) -> dict[str, Any]:
    """``data`` of a ``kind`` event (chat_update, session_update) as a reader without the
    unmask permission sees it; other kinds are returned as they are."""
    shown = dict(data)
    field = MASKED_FIELDS.get(kind)
    if field is not None and isinstance(shown.get(field), str):
        shown[field] = masker.text(shown[field])
    return shown


class MaskedEvents:
    """Events as every masked feed client sees them: each masked once, however many
    clients receive it (the most recent events are remembered)."""

    def __init__(self, masker: Masker) -> None:
        self._masker = masker
        # keyed by id(); the event is kept alongside, so its id cannot be reused meanwhile
        self._recent: OrderedDict[int, tuple[Event, Event]] = OrderedDict()

    def __call__(self, event: Event) -> Event:
        """``event`` masked (the same event when there is nothing to mask)."""
        if not self._masker or event.type not in MASKED_FIELDS:
            return event
        remembered = self._recent.get(id(event))
        if remembered is not None and remembered[0] is event:
            return remembered[1]
        data = masked_payload(event.type, event.data, self._masker)
        shown = event if data == event.data else Event(event.type, data, event.timestamp)
        self._recent[id(event)] = (event, shown)
        if len(self._recent) > _REMEMBERED_EVENTS:
            self._recent.popitem(last=False)
        return shown
