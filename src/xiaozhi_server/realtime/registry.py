"""Who is connected to the admin feed, so the subscriber limit holds across workers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from xiaozhi_server.ops.metrics import WEBSOCKET_CONNECTIONS


class SharedPlaces:
    """The feed clients of every worker of one ``serve``, counted in shared memory.

    ``counts`` is a ``multiprocessing.Array("i", workers)`` made by the supervisor: one
    slot per worker, so the supervisor can zero the slot of a worker that died.
    """

    def __init__(self, counts: Any, slot: int) -> None:
        self._counts = counts
        self._slot = slot

    def take(self, limit: int) -> bool:
        """Take a place if fewer than ``limit`` are taken by all workers together."""
        with self._counts.get_lock():
            if sum(self._counts) >= limit:
                return False
            self._counts[self._slot] += 1
            return True

    def give_back(self) -> None:
        """Give this worker's place back."""
        with self._counts.get_lock():
            self._counts[self._slot] -= 1

    @property
    def taken(self) -> int:
        """Places taken by all workers."""
        return int(sum(self._counts))


@dataclass(frozen=True, slots=True)
class WorkerLink:
    """How one worker process of ``serve`` is tied to the others."""

    index: int
    # the supervisor's relay (events between workers) when Redis does not carry them
    relay_path: str | None
    places: SharedPlaces | None


class FeedRegistry:
    """Counts connected feed clients against ``notification.max_subscribers``."""

    def __init__(self, max_clients: int, places: SharedPlaces | None = None) -> None:
        self.max_clients = max_clients
        self._places = places
        self._here = 0

    @property
    def clients(self) -> int:
        """Clients connected (to every worker of this ``serve``)."""
        return self._places.taken if self._places is not None else self._here

    def try_join(self) -> bool:
        """Take a place if one is free."""
        if self._places is not None:
            if not self._places.take(self.max_clients):
                return False
        elif self._here >= self.max_clients:
            return False
        self._here += 1
        WEBSOCKET_CONNECTIONS.inc()
        return True

    def leave(self) -> None:
        """Give a place back."""
        self._here -= 1
        if self._places is not None:
            self._places.give_back()
        WEBSOCKET_CONNECTIONS.dec()
