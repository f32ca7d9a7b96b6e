"""Quarters: 15-minute UTC buckets numbered from the Unix epoch, the rollups' unit of time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

QUARTER = timedelta(minutes=15)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Local day lengths kept as day windows: a plain day and a day with a one-hour clock change.
# Other lengths (half-hour changes, a zone moving across the date line) are counted directly.
DAY_LENGTHS = (92, 96, 100)


def quarter_of(moment: datetime) -> int:
    """The quarter that ``moment`` falls in."""
    return (moment - EPOCH) // QUARTER


def quarter_at_or_after(moment: datetime) -> int:
    """The first quarter that starts at or after ``moment``."""
    quarter = quarter_of(moment)
    return quarter if start_of(quarter) == moment else quarter + 1


def start_of(quarter: int) -> datetime:
    """When ``quarter`` begins."""
    return EPOCH + QUARTER * quarter
