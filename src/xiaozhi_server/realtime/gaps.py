"""Where this instance's feed clients may have missed other instances' events from.

Redis pub/sub keeps nothing: an event published while an instance's subscription is down
never reaches that instance, and an instance gives up publishing an event it could not
send for a few seconds. So while the subscription is up, the store's highest message id is
noted every ``NOTE_SECONDS``. When the subscription is lost, the older of the last two
notes is where the gap may begin: it was taken at least ``NOTE_SECONDS`` before the loss,
so every event up to it had long arrived. Once subscribed again, the feed replays the
stored messages after it to every client, skipping what each was already sent.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

NOTE_SECONDS = 5.0
HighestId = Callable[[], Awaitable[int]]


class GapTracker:
    """Notes of the store's highest message id, and the gap a lost subscription opened."""

    def __init__(self, highest_id: HighestId) -> None:
        self._highest_id = highest_id
        self._notes: deque[int] = deque(maxlen=2)
        self._gap_from: int | None = None

    async def note(self) -> None:
        """Note the store's highest message id now (a store that does not answer: no note)."""
        try:
            self._notes.append(await self._highest_id())
        except Exception as exc:  # the store being down must not stop the events
            log.warning("could not note the newest message id: %s", type(exc).__name__)

    async def start(self) -> None:
        """Before the first subscription: clients that join before it may miss events
        too, from the store's state now."""
        await self.note()
        self.lost()

    def lost(self) -> None:
        """The subscription is gone: events after the gap's start may be missing."""
        if self._gap_from is None and self._notes:
            self._gap_from = self._notes[0]

    async def subscribed(self) -> int | None:
        """The subscription is up again: the id to replay after (None: nothing to replay).
        The notes start again from now."""
        gap_from, self._gap_from = self._gap_from, None
        self._notes.clear()
        await self.note()
        return gap_from
