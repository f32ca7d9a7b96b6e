"""What every benchmark prints alongside its figures."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
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
