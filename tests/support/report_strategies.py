"""Hypothesis strategies for report bodies: good turns, damaged ones and anything else."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from hypothesis import strategies as st

from tests.support.core_client import wav_bytes
from xiaozhi_server.ingest.normalise import strip_controls

CONTENT_LIMIT = 1000
WAV = wav_bytes(160)
_FIRST_MS = 946_684_800_000  # 2000-01-01
_LAST_MS = 4_102_444_799_999  # 2099-12-31

_id_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=40
)
_macs = st.tuples(
    st.lists(st.integers(0, 255), min_size=6, max_size=6), st.sampled_from([":", "-", ""])
).map(lambda parts: parts[1].join(f"{b:02X}" for b in parts[0]))
_contents = st.text(min_size=1, max_size=CONTENT_LIMIT).filter(
    lambda text: strip_controls(text).strip() != ""
)
_report_times = st.one_of(
    st.none(),
    st.integers(_FIRST_MS, _LAST_MS),
    st.integers(_FIRST_MS // 1000, _LAST_MS // 1000),
)


@st.composite
def good_reports(draw: st.DrawFn) -> dict[str, Any]:
    """A report the core could send: every field valid, audio sometimes."""
    return {
        "macAddress": draw(st.one_of(_macs, _id_text)),
        "sessionId": draw(st.one_of(st.builds(lambda: str(uuid.uuid4())), _id_text)),
        "chatType": draw(st.sampled_from([1, 2, 3])),
        "content": draw(_contents),
        "audioBase64": draw(st.sampled_from([None, "", base64.b64encode(WAV).decode()])),
        "reportTime": draw(_report_times),
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@st.composite
def damaged_reports(draw: st.DrawFn) -> dict[str, Any]:
    """A good report with one field removed or replaced by any JSON value."""
    report = draw(good_reports())
    field = draw(st.sampled_from(sorted(report)))
    if draw(st.booleans()):
        del report[field]
    else:
        report[field] = draw(json_values)
    return report


def encode(report: dict[str, Any]) -> bytes:
    """The body as the core's JSON encoder writes it (lone surrogates escaped, never raw)."""
    return json.dumps(report, ensure_ascii=False).encode("utf-8", "surrogatepass")


any_bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda value: json.dumps(value).encode()),
    damaged_reports().map(encode),
    good_reports().map(encode),
)
