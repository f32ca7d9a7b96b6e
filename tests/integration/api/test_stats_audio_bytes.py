"""Statistics per day, device and agent say how many audio bytes the store keeps for them."""

from __future__ import annotations

import httpx

from tests.support.seed import AUDIO, KIDS_ROOM, LIVING_ROOM

RANGE = {"from": "2026-11-19T16:00:00Z", "to": "2026-11-21T16:00:00Z"}


def test_device_and_agent_buckets_carry_the_audio_bytes_stored(api: httpx.Client) -> None:
    devices = api.get("/api/v2/stats", params={"group_by": "device", **RANGE}).json()["buckets"]
    assert {b["key"]: b["audio_bytes"] for b in devices} == {LIVING_ROOM: len(AUDIO), KIDS_ROOM: 0}
    agents = api.get("/api/v2/stats", params={"group_by": "agent", **RANGE}).json()["buckets"]
    assert {b["key"]: b["audio_bytes"] for b in agents} == {"agent-zh": len(AUDIO), "agent-en": 0}


def test_day_buckets_carry_the_audio_bytes_stored_too(api: httpx.Client) -> None:
    days = api.get("/api/v2/stats", params={"group_by": "day", **RANGE}).json()["buckets"]
    assert sum(day["audio_bytes"] for day in days) == len(AUDIO)
