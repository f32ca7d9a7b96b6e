"""CPU time of a process and its descendants, and how long they waited for a CPU, from
/proc (Linux)."""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and every live process below it (workers)."""
    return sum(_cpu_seconds(each) for each in _tree(pid))


def tree_wait_seconds(pid: int) -> float:
    """Seconds the main threads of ``pid`` and its descendants were ready to run but waited
    for a CPU (``run_delay`` of /proc/<pid>/schedstat): how much others held them up."""
    return sum(_wait_seconds(each) for each in _tree(pid))


def _wait_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/schedstat").read_text().split()
    except OSError:
        return 0.0
    return int(fields[1]) / 1e9


def _cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0  # gone meanwhile
    # Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def _tree(pid: int) -> list[int]:
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found += _tree(int(child))
    return found
