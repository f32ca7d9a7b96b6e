"""Feed commands: a subscribe names devices, agents, sessions, event types and chat types."""

from __future__ import annotations

import pytest

from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.realtime.protocol import Filters, ProtocolError, Subscribe, parse_command


def subscribe(filters: str) -> Filters:
    command = parse_command('{"type":"subscribe","filters":' + filters + "}")
    assert isinstance(command, Subscribe)
    return command.filters


def test_a_device_is_matched_in_any_spelling_of_its_mac() -> None:
    filters = subscribe('{"device":"A0-85-E3-00-00-01"}')
    assert filters.matches(Event("chat_update", {"device": "a0:85:e3:00:00:01"}))
    assert filters.matches(Event("device_update", {"mac": "a0:85:e3:00:00:01"}))
    assert not filters.matches(Event("chat_update", {"device": "a0:85:e3:00:00:02"}))


def test_an_agent_filter_passes_that_agents_events_only() -> None:
    filters = subscribe('{"agent":"agent-7"}')
    assert filters.matches(Event("session_update", {"agent_id": "agent-7"}))
    assert not filters.matches(Event("session_update", {"agent_id": "agent-8"}))


def test_chat_types_narrow_chat_updates_and_leave_other_events_alone() -> None:
    filters = subscribe('{"chat_types":[1,3]}')
    assert filters.matches(Event("chat_update", {"chat_type": 3}))
    assert not filters.matches(Event("chat_update", {"chat_type": 2}))
    assert filters.matches(Event("session_update", {"session_id": "s"}))


@pytest.mark.parametrize("chat_types", ["[4]", '["1"]', "[true]", "2", "[1.0]"])
def test_chat_types_other_than_1_2_3_are_refused_with_the_reason(chat_types: str) -> None:
    with pytest.raises(ProtocolError, match=r"chat_types: must be a list of 1 \(user\)"):
        subscribe('{"chat_types":' + chat_types + "}")
