"""Distinct active devices per day-long window, kept as deltas when a device's quarter
switches between active and idle (no messages)."""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator

from xiaozhi_server.store.quarters import DAY_LENGTHS


class WindowDeltas:
    """Changes to ``stats_day_windows`` (start, length) → devices, built from transitions.

    A window [S, S+L) counts a device when the device is active in any of its quarters. When
    quarter Q of a device becomes active, the windows that gain the device are those containing
    Q and no other active quarter of that device: S in [max(prev+1, Q-L+1), min(Q, next-L)],
    where prev / next are the device's nearest active quarters before / after Q. Becoming idle
    is the mirror image. Ranges are added to difference arrays, so a batch costs O(changes).
    """

    def __init__(self) -> None:
        self._edges: dict[int, defaultdict[int, int]] = {
            length: defaultdict(int) for length in DAY_LENGTHS
        }

    def switch(self, active: list[int], quarter: int, sign: int) -> None:
        """Quarter ``quarter`` of one device turns active (+1) or idle (-1).

        ``active`` is the device's sorted active quarters (at least every one within the longest
        day of ``quarter``), updated in place.
        """
        position = bisect.bisect_left(active, quarter)
        if sign > 0:
            active.insert(position, quarter)
        else:
            del active[position]
        before = active[position - 1] if position > 0 else None
        after_index = position + 1 if sign > 0 else position
        after = active[after_index] if after_index < len(active) else None
        for length, edges in self._edges.items():
            low = quarter - length + 1 if before is None else max(before + 1, quarter - length + 1)
            high = quarter if after is None else min(quarter, after - length)
            if low <= high:
                edges[low] += sign
                edges[high + 1] -= sign

    def add_device(self, quarters: Iterable[int]) -> None:
        """Count one more device, active in ``quarters`` (ascending), from scratch."""
        active: list[int] = []
        for quarter in quarters:
            self.switch(active, quarter, 1)
            # Only the last quarter can neighbour the ones that follow.
            del active[:-1]

    def rows(self) -> Iterator[tuple[int, int, int]]:
        """(start quarter, length, devices delta) for every window whose count changed."""
        for length, edges in self._edges.items():
            running = 0
            points = sorted(edges)
            for here, following in itertools.pairwise(points):
                running += edges[here]
                if running:
                    for start in range(here, following):
                        yield start, length, running
