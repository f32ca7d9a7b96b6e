"""What every benchmark prints alongside its figures."""

from __future__ import annotations

import contextlib
import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def machine() -> dict[str, Any]:
    """The machine and moment a figure was measured on."""
    return {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "python": platform.python_version(),
        "date": datetime.now(UTC).date().isoformat(),
    }


def report(name: str, figures: dict[str, Any]) -> None:
    """Print one JSON object for ``name``."""
    print(json.dumps({"benchmark": name, **figures, **machine()}, ensure_ascii=False), flush=True)


def percentile(values: list[float], pct: float) -> float:
    """The ``pct``-th percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def process_cpu(pid: int) -> tuple[float, float]:
    """Seconds a running process's threads have spent on a CPU, and waiting for one
    (runnable while every CPU was busy: on a shared machine, the others' share).

    Read from /proc/<pid>/task/*/schedstat; threads that have exited are not counted.
    """
    ran = waited = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # the thread exited meanwhile
            fields = (task / "schedstat").read_text().split()
            ran, waited = ran + int(fields[0]), waited + int(fields[1])
    return ran / 1e9, waited / 1e9


def process_memory(pid: int, field: str = "VmRSS") -> int:
    """A memory figure of a running process from /proc, in bytes (0 once it has exited).

    ``VmRSS`` is its resident set now, ``VmHWM`` the peak since its exec.
    """
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_memory(pid: int) -> dict[int, int]:
    """``VmRSS`` in bytes of a running process and of each of its children (the SQLite
    writer process of ``serve`` and ``sync``), by process id."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return {p: process_memory(p) for p in [pid, *map(int, children)]}


def cpu_seconds(pid: int) -> float:
    """User and system CPU seconds a running process has used (0 once it has exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
