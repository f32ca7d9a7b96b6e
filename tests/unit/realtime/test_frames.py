"""Frames: one message as is, several as a batch; the bytes a server sends."""

from __future__ import annotations

import json

import pytest
from websockets.frames import Frame as WebSocketFrame
from websockets.frames import Opcode

from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.realtime.frames import Frame, batch_text, text_frame


def test_one_event_is_its_own_message() -> None:
    event = Event("chat_update", {"id": 1})
    assert Frame([event]).text == event.to_text()


def test_several_events_are_one_batch_message_in_order() -> None:
    events = [Event("chat_update", {"id": n}) for n in (3, 1, 2)]
    message = json.loads(Frame(events).text)
    assert message["type"] == "batch"
    assert [each["data"]["id"] for each in message["events"]] == [3, 1, 2]
    assert message["events"][0] == json.loads(events[0].to_text())


def test_a_batch_holds_the_texts_as_they_are() -> None:
    assert batch_text(['{"a":1}', '{"b":2}']) == '{"type":"batch","events":[{"a":1},{"b":2}]}'


@pytest.mark.parametrize("size", [0, 125, 126, 65_535, 65_536, 200_000])
def test_the_frame_bytes_are_what_websockets_would_send(size: int) -> None:
    payload = b"x" * size
    expected = WebSocketFrame(Opcode.TEXT, payload).serialize(mask=False)
    assert text_frame(payload) == expected


def test_a_frame_knows_the_store_ids_of_its_chat_updates() -> None:
    frame = Frame([Event("chat_update", {"id": 9}), Event("device_update", {"mac": "m"})])
    assert frame.chat_ids == (9,)
    assert frame.lowest_chat_id == 9
