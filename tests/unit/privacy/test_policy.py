"""Retention and audio settings become one policy: which days apply, whose audio is kept,
and clear errors for settings that cannot mean anything."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from xiaozhi_server.config import (
    CaptureSettings,
    ConfigError,
    RetentionSettings,
    read_settings,
)
from xiaozhi_server.privacy.policy import DataPolicy, days_for

HALL = "a0:85:e3:00:00:01"


def policy(capture: dict[str, Any] | None = None, **retention: Any) -> DataPolicy:
    return DataPolicy.from_settings(
        RetentionSettings.model_validate(retention), CaptureSettings.model_validate(capture or {})
    )


def test_without_settings_everything_is_kept_with_its_audio() -> None:
    kept = policy()
    assert not kept.retains
    assert days_for(kept.messages, HALL, "a1") is None
    assert kept.audio.allows("a1", 2)


def test_a_device_rule_beats_an_agent_rule_which_beats_the_default() -> None:
    rules = policy(
        messages_days=90,
        agents={"a1": {"messages_days": 30}},
        devices={HALL: {"messages_days": 7}},
    ).messages
    assert days_for(rules, HALL, "a1") == 7
    assert days_for(rules, "a0:85:e3:00:00:02", "a1") == 30
    assert days_for(rules, "a0:85:e3:00:00:02", "a2") == 90


def test_null_in_an_override_keeps_for_ever_and_a_missing_key_inherits() -> None:
    rules = policy(
        messages_days=90,
        audio_days=7,
        agents={"a1": {"messages_days": None}},
    )
    assert days_for(rules.messages, HALL, "a1") is None
    assert days_for(rules.audio_retention, HALL, "a1") == 7


def test_device_keys_match_in_any_mac_spelling() -> None:
    rules = policy(devices={"A0-85-E3-00-00-01": {"audio_days": 3}}).audio_retention
    assert days_for(rules, HALL, None) == 3


def test_audio_follows_the_agent_override_then_the_default() -> None:
    audio = policy({"store_audio": False, "store_audio_agents": {"a1": True}}).audio
    assert audio.allows("a1", None)
    assert not audio.allows("a2", None)
    assert not audio.allows(None, None)


@pytest.mark.parametrize("conf", [0, 1])
def test_an_agent_recorded_text_only_upstream_never_keeps_audio(conf: int) -> None:
    assert not policy({"store_audio_agents": {"a1": True}}).audio.allows("a1", conf)


def config_error(tmp_path: Path, text: str) -> str:
    path = tmp_path / "settings.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        read_settings(path)
    return str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("retention:\n  messages_days: 0\n", "retention.messages_days = 0: expected whole days"),
        (
            "retention:\n  agents:\n    a1:\n      audio_days: -3\n",
            "retention.agents.a1.audio_days = -3: expected whole days",
        ),
        (
            "retention:\n  devices:\n    10:20:30:40:50:59:\n      messages_days: 7\n",
            "must be quoted text",
        ),
        (
            "retention:\n  devices:\n    'A0-85-E3-00-00-01': {}\n    'a0:85:e3:00:00:01': {}\n",
            "names the same device as another key",
        ),
        (
            "retention:\n  agents:\n    a1:\n      days: 7\n",
            "retention.agents.a1.days: unknown key",
        ),
        ("capture:\n  store_audio: maybe\n", "capture.store_audio = 'maybe'"),
    ],
)
def test_settings_that_cannot_mean_anything_are_refused_with_the_key_named(
    tmp_path: Path, clean_environment: None, text: str, expected: str
) -> None:
    assert expected in config_error(tmp_path, text)
