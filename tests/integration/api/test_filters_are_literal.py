"""Title and device filters find the text typed: %, _ and \\ are characters, not patterns."""

from __future__ import annotations

import httpx
import pytest

SPECIAL = ["%", "_", "\\"]


@pytest.mark.parametrize("q", SPECIAL)
def test_a_title_filter_with_a_wildcard_matches_only_that_character(
    api: httpx.Client, q: str
) -> None:
    assert api.get("/api/v2/sessions", params={"q": q}).json()["items"] == []


@pytest.mark.parametrize("q", SPECIAL)
def test_a_device_filter_with_a_wildcard_matches_only_that_character(
    api: httpx.Client, q: str
) -> None:
    assert api.get("/api/v2/devices", params={"q": q}).json()["items"] == []


def test_a_title_filter_ignores_case(api: httpx.Client) -> None:
    items = api.get("/api/v2/sessions", params={"q": "ENGLISH"}).json()["items"]
    assert [item["session_id"] for item in items] == ["s-english"]
