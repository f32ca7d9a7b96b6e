"""What the feed puts on the wire: one message per frame, or several in one ``batch`` frame.

A client whose previous frame is still being written gets the messages that queued
meanwhile in one frame, ``{"type":"batch","events":[m1, m2, ...]}``, each element exactly
the message that would otherwise have been sent alone, in order. A frame is built once and
its bytes go, unchanged, to every client that wants the same messages.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from xiaozhi_server.realtime.bus import Event

BATCH = "batch"
_BATCH_OPEN = '{"type":"' + BATCH + '","events":['
NO_CHAT_ID = 1 << 63  # above every store id: a frame without chat updates
_FIN_TEXT = 0x81  # FIN bit + opcode 1 (text), RFC 6455 section 5.2


class Frame:
    """One WebSocket text message carrying one or more events, encoded on first use."""

    __slots__ = ("_text", "_wire", "chat_ids", "events", "lowest_chat_id")

    def __init__(self, events: Sequence[Event]) -> None:
        self.events = events
        self._text: str | None = None
        self._wire: bytes | None = None
        # Store ids of the messages in this frame, for "nothing twice" after a resume.
        self.chat_ids: tuple[int, ...] = tuple(
            event.data["id"] for event in events if event.type == "chat_update"
        )
        self.lowest_chat_id = min(self.chat_ids, default=NO_CHAT_ID)

    @property
    def text(self) -> str:
        """The JSON text: the event itself, or a ``batch`` of them."""
        if self._text is None:
            self._text = batch_text([event.to_text() for event in self.events])
        return self._text

    @property
    def wire(self) -> bytes:
        """The whole WebSocket frame (header and UTF-8 payload), as a server sends it."""
        if self._wire is None:
            self._wire = text_frame(self.text.encode())
        return self._wire


def batch_text(texts: Sequence[str]) -> str:
    """One message's text as is; several as one ``batch`` message."""
    if len(texts) == 1:
        return texts[0]
    return _BATCH_OPEN + ",".join(texts) + "]}"


def text_frame(payload: bytes) -> bytes:
    """An unmasked, final text frame holding ``payload`` (servers never mask)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", _FIN_TEXT, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", _FIN_TEXT, 126, size)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, size)
    return header + payload
