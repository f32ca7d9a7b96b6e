"""The natural key identifies a turn, not the way it arrived."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from xiaozhi_server.ingest.natural_key import epoch_millis, natural_key

T = datetime(2026, 11, 24, 12, 0, 0, 123000, tzinfo=UTC)


def test_the_same_instant_in_another_zone_gives_the_same_key() -> None:
    shanghai = T.astimezone(timezone(timedelta(hours=8)))
    assert natural_key("m", "s", 1, T, "hi") == natural_key("m", "s", 1, shanghai, "hi")


def test_any_differing_part_gives_another_key() -> None:
    base = natural_key("m", "s", 1, T, "hi")
    variants = [
        natural_key("m2", "s", 1, T, "hi"),
        natural_key("m", "s2", 1, T, "hi"),
        natural_key("m", "s", 2, T, "hi"),
        natural_key("m", "s", 1, T + timedelta(milliseconds=1), "hi"),
        natural_key("m", "s", 1, T, "hi!"),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)


def test_parts_cannot_be_shifted_between_fields() -> None:
    assert natural_key("ab", "c", 1, T, "x") != natural_key("a", "bc", 1, T, "x")


def test_epoch_millis_is_exact_for_millisecond_times() -> None:
    assert epoch_millis(T) == 1_795_521_600_123
