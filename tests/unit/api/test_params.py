"""Parameter parsing that the OpenAPI document states as patterns must agree with them."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime

import pytest
from pydantic_core import PydanticCustomError

from xiaozhi_server.api.params import NOT_BLANK, parse_time


def test_the_not_blank_pattern_refuses_exactly_what_strip_removes() -> None:
    spaces = {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    refused = {chr(c) for c in range(sys.maxunicode + 1) if not re.fullmatch(NOT_BLANK, chr(c))}
    assert refused == spaces


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-24T08:00:00Z", datetime(2026, 11, 24, 8, tzinfo=UTC)),
        ("2026-11-24t16:00:00.5+08:00", datetime(2026, 11, 24, 8, 0, 0, 500000, tzinfo=UTC)),
        ("2026-11-24 08:00", datetime(2026, 11, 24, 8, tzinfo=UTC)),
        ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
        ("1795507200", datetime(2026, 11, 24, 8, tzinfo=UTC)),
        ("1795507200123", datetime(2026, 11, 24, 8, 0, 0, 123000, tzinfo=UTC)),
        ("", None),
    ],
)
def test_times_are_read_in_every_documented_form(text: str, moment: datetime | None) -> None:
    assert parse_time(text) == moment


def test_a_time_whose_utc_would_be_before_year_one_is_the_earliest_time() -> None:
    assert parse_time("0001-01-01T00:00:00+05:00") == datetime.min.replace(tzinfo=UTC)


def test_a_time_whose_utc_would_be_after_year_9999_is_the_latest_time() -> None:
    assert parse_time("9999-12-31T23:00:00-05:00") == datetime.max.replace(tzinfo=UTC)


@pytest.mark.parametrize("text", ["2026-02-30", "2026-11-24T25:00:00Z", "yesterday", "-5"])
def test_anything_else_is_refused(text: str) -> None:
    with pytest.raises(PydanticCustomError):
        parse_time(text)
