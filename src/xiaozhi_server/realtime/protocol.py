"""Messages a WebSocket client may send, validated into typed commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xiaozhi_server.ingest.normalise import normalise_device
from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.untrusted_json import JsonTextError, parse_json

EVENT_TYPES = ("chat_update", "session_update", "device_update", "agent_update", "sync_status")
CHAT_TYPES = (1, 2, 3)  # user, agent, tool


class ProtocolError(ValueError):
    """A client message that cannot be understood; the text says what was expected."""


@dataclass(frozen=True, slots=True)
class Filters:
    """Which events a client wants: all, or those of some types, device, agent or session,
    and of chat updates those of some chat types (1 user, 2 agent, 3 tool)."""

    device: str | None = None
    agent: str | None = None
    session: str | None = None
    types: tuple[str, ...] | None = None
    chat_types: tuple[int, ...] | None = None

    def matches(self, event: Event) -> bool:
        """True if ``event`` concerns what these filters name."""
        if self.types is not None and event.type not in self.types:
            return False
        data = event.data
        chat_types = self.chat_types
        if (
            chat_types is not None
            and event.type == "chat_update"
            and (data.get("chat_type") not in chat_types)
        ):
            return False
        wanted = (
            (self.device, data.get("device", data.get("mac"))),
            (self.agent, data.get("agent_id")),
            (self.session, data.get("session_id")),
        )
        return all(want is None or want == have for want, have in wanted)


@dataclass(frozen=True, slots=True)
class Subscribe:
    filters: Filters


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    pass


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class Resume:
    since: int


@dataclass(frozen=True, slots=True)
class Auth:
    token: str | None
    username: str | None
    password: str | None


Command = Subscribe | Unsubscribe | Ping | Resume | Auth


def parse_command(text: str) -> Command:
    """One client message → a command; raise ProtocolError with the reason."""
    try:
        data = parse_json(text)
    except JsonTextError as exc:
        raise ProtocolError(str(exc)) from None
    if not isinstance(data, dict):
        raise ProtocolError("a message must be a JSON object with a 'type'")
    kind = data.get("type")
    if kind == "subscribe":
        return Subscribe(_filters(data))
    if kind == "unsubscribe":
        return Unsubscribe()
    if kind == "ping":
        return Ping()
    if kind == "resume":
        return Resume(_since(data.get("since")))
    if kind == "auth":
        return Auth(_text(data, "token"), _text(data, "username"), _text(data, "password"))
    raise ProtocolError("type: expected one of subscribe, unsubscribe, resume, ping, auth")


def _filters(data: dict[str, Any]) -> Filters:
    source = data.get("filters", data)
    if not isinstance(source, dict):
        raise ProtocolError(
            "filters: must be an object with device, agent, session, types and/or chat_types"
        )
    device = _text(source, "device")
    return Filters(
        device=normalise_device(device) if device else None,
        agent=_text(source, "agent"),
        session=_text(source, "session"),
        types=_types(source.get("types")),
        chat_types=_chat_types(source.get("chat_types")),
    )


def _types(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(v in EVENT_TYPES for v in value):
        raise ProtocolError("types: must be a list of " + ", ".join(EVENT_TYPES))
    return tuple(value)


def _chat_types(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(_is_chat_type(v) for v in value):
        raise ProtocolError("chat_types: must be a list of 1 (user), 2 (agent), 3 (tool)")
    return tuple(sorted(set(value)))


def _is_chat_type(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value in CHAT_TYPES


def _since(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ProtocolError("since: must be the last message id seen (an integer >= 0)")
    return value


def _text(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError(f"{field}: must be a non-empty string")
    return value.strip()
