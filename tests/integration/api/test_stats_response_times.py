"""Response times in the statistics: per agent and local day, only when asked for."""

from __future__ import annotations

import httpx

RANGE = {"from": "2026-11-20T00:00:00Z", "to": "2026-11-22T00:00:00Z"}


def test_response_times_per_agent_and_day_come_when_asked_for(api: httpx.Client) -> None:
    body = api.get("/api/v2/stats", params={**RANGE, "response_times": "true"}).json()
    assert body["response_times"] == [
        {"day": "2026-11-20", "agent_id": "agent-zh", "replies": 1, "p50_ms": 3000, "p95_ms": 3000},
        {"day": "2026-11-21", "agent_id": "agent-en", "replies": 1, "p50_ms": 2000, "p95_ms": 2000},
        {"day": "2026-11-21", "agent_id": "agent-zh", "replies": 1, "p50_ms": 2000, "p95_ms": 2000},
    ]


def test_the_days_of_response_times_are_those_of_the_requested_zone(api: httpx.Client) -> None:
    params = {**RANGE, "response_times": "true", "tz": "America/Los_Angeles"}
    body = api.get("/api/v2/stats", params=params).json()
    # 2026-11-21 06:00 UTC is still the 20th in Los Angeles
    assert [(t["day"], t["agent_id"]) for t in body["response_times"]] == [
        ("2026-11-20", "agent-zh"),
        ("2026-11-21", "agent-en"),
    ]


def test_without_asking_the_stats_carry_no_response_times(api: httpx.Client) -> None:
    assert "response_times" not in api.get("/api/v2/stats", params=RANGE).json()


def test_response_times_over_more_than_366_days_are_a_400(api: httpx.Client) -> None:
    params = {"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}
    response = api.get("/api/v2/stats", params={**params, "group_by": "agent", "response_times": 1})
    assert response.status_code == 400
    assert "366 days" in response.text
