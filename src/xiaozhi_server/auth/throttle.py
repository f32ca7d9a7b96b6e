"""Slowing down password guessing: per user name and per client address.

Each wrong password costs the server a scrypt (tens of milliseconds of CPU, on purpose), so
unthrottled guessing is both an attack on an account and on every other request. After a
few failures a name or an address is locked for a while, doubling with every further
failure up to a ceiling; a locked attempt is refused before any hashing. A success clears
the name's count, not the address's: one known password must not buy unlimited guesses at
the other names from the same place. Counts live in this process (bounded in size); with
several instances each keeps its own.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

_MAX_TRACKED = 10_000


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """How many failures are free, for how long they are remembered, the longest lock."""

    free_failures: int = 5
    window_seconds: float = 900.0
    max_lock_seconds: float = 900.0


@dataclass(slots=True)
class _Failures:
    count: int
    last_at: float
    locked_until: float


class SignInThrottle:
    """Remembers failed sign-ins and says how long a name or an address must wait."""

    def __init__(
        self,
        per_user: ThrottlePolicy,
        per_address: ThrottlePolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._policies = {"user": per_user, "address": per_address}
        # One table per kind, each bounded: a flood of addresses cannot evict a locked name.
        self._failures: dict[str, OrderedDict[str, _Failures]] = {
            kind: OrderedDict() for kind in self._policies
        }
        self._clock = clock

    def retry_after(self, username: str, address: str) -> int | None:
        """Whole seconds until ``username`` may try again from ``address``, or None if now."""
        now = self._clock()
        waits = [
            entry.locked_until - now
            for kind, key in self._keys(username, address)
            if (entry := self._failures[kind].get(key)) is not None and entry.locked_until > now
        ]
        return math.ceil(max(waits)) if waits else None

    def failed(self, username: str, address: str) -> None:
        """Count one wrong password for ``username`` from ``address``."""
        now = self._clock()
        for kind, key in self._keys(username, address):
            policy, table = self._policies[kind], self._failures[kind]
            entry = table.pop(key, None)
            if entry is None or now - entry.last_at > policy.window_seconds:
                entry = _Failures(0, now, now)
            entry.count += 1
            entry.last_at = now
            extra = entry.count - policy.free_failures
            if extra > 0:
                entry.locked_until = now + min(2.0 ** min(extra - 1, 30), policy.max_lock_seconds)
            table[key] = entry  # most recent last: the oldest go first when the table is full
            if len(table) > _MAX_TRACKED:
                table.popitem(last=False)

    def succeeded(self, username: str) -> None:
        """Forget the failures of ``username`` (the address keeps its own)."""
        self._failures["user"].pop(username, None)

    @staticmethod
    def _keys(username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", username), ("address", address)
