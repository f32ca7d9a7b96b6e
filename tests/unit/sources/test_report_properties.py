"""Any body at all: the report parser gives the turn it describes or a 4xx ReportError."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.report_strategies import (
    CONTENT_LIMIT,
    any_bodies,
    damaged_reports,
    encode,
    good_reports,
)
from xiaozhi_server.domain import Batch
from xiaozhi_server.ingest.normalise import normalise_message, strip_controls
from xiaozhi_server.sources.report import ReportError, ReportLimits, parse_report

LIMITS = ReportLimits(max_content_chars=CONTENT_LIMIT, max_audio_bytes=100_000)
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parsed(body: bytes) -> Batch | ReportError:
    """The batch, or the error the endpoint would answer with."""
    try:
        return parse_report(body, LIMITS, NOW)
    except ReportError as exc:
        return exc


@settings(max_examples=500)
@given(any_bodies)
def test_any_body_is_a_batch_or_a_4xx_report_error(body: bytes) -> None:
    outcome = parsed(body)
    if isinstance(outcome, ReportError):
        assert 400 <= outcome.status < 500
        assert str(outcome)
    else:
        assert len(outcome.messages) == 1


@settings(max_examples=300)
@given(good_reports())
def test_a_good_report_is_one_storable_turn_with_its_text(report: dict[str, Any]) -> None:
    batch = parse_report(encode(report), LIMITS, NOW)
    [message] = batch.messages
    stored = normalise_message(message)  # what ingest will write: it must not refuse it
    assert stored.content == strip_controls(report["content"])
    assert stored.chat_type == report["chatType"]
    assert stored.session_id == report["sessionId"].strip()
    assert (message.audio_id is not None) == bool(report["audioBase64"])
    assert len(batch.audio) == (1 if report["audioBase64"] else 0)


@settings(max_examples=300)
@given(good_reports().filter(lambda report: report["reportTime"] is not None))
def test_report_time_in_ms_or_s_is_the_turns_time(report: dict[str, Any]) -> None:
    [message] = parse_report(encode(report), LIMITS, NOW).messages
    millis = report["reportTime"]
    millis = millis if millis >= 100_000_000_000 else millis * 1000
    assert (message.created_at - EPOCH) // timedelta(milliseconds=1) == millis


@settings(max_examples=300)
@given(damaged_reports())
def test_a_damaged_report_is_refused_naming_the_field_or_stored_whole(
    report: dict[str, Any],
) -> None:
    outcome = parsed(encode(report))
    if isinstance(outcome, ReportError):
        assert str(outcome).split(":")[0] in FIELDS
    else:
        normalise_message(outcome.messages[0])


FIELDS = {"macAddress", "sessionId", "chatType", "content", "audioBase64", "reportTime", "body"}


@given(st.integers(min_value=31, max_value=20_000), st.sampled_from(["reportTime", "chatType"]))
def test_an_integer_of_any_length_is_a_400_naming_the_body(digits: int, field: str) -> None:
    body = b'{"%s": %s}' % (field.encode(), b"7" * digits)
    outcome = parsed(body)
    assert isinstance(outcome, ReportError)
    assert outcome.status == 400
    assert str(outcome).startswith("body:")
