"""What the hub may keep, from the settings: retention days and the audio opt-out.

Retention: ``retention.messages_days`` / ``audio_days`` apply to everything; an agent's
override (``retention.agents``) beats them, and a device's (``retention.devices``) beats
both. In an override, a key left out inherits and ``null`` keeps for ever.

Audio: ``capture.store_audio`` for everything, ``capture.store_audio_agents`` per agent;
an agent the upstream records text-only (``chat_history_conf`` 1, or 0: nothing) never has
its audio kept, whatever the hub's settings say.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from xiaozhi_server.config import CaptureSettings, RetentionRule, RetentionSettings
from xiaozhi_server.store.scopes import RetentionRules

TEXT_ONLY_CONFS = frozenset({0, 1})
KINDS = ("messages", "audio")


@dataclass(frozen=True, slots=True)
class AudioPolicy:
    """Whether audio bytes may be written, by agent."""

    default: bool = True
    agents: dict[str, bool] = field(default_factory=dict)

    def allows(self, agent_id: str | None, chat_history_conf: int | None) -> bool:
        """True if audio of a turn of ``agent_id`` may be stored."""
        if chat_history_conf in TEXT_ONLY_CONFS:
            return False
        if agent_id is not None and agent_id in self.agents:
            return self.agents[agent_id]
        return self.default


@dataclass(frozen=True, slots=True)
class DataPolicy:
    """The retention rules (messages and audio) and the audio opt-out."""

    messages: RetentionRules = field(default_factory=RetentionRules)
    audio_retention: RetentionRules = field(default_factory=RetentionRules)
    audio: AudioPolicy = field(default_factory=AudioPolicy)

    @classmethod
    def from_settings(cls, retention: RetentionSettings, capture: CaptureSettings) -> DataPolicy:
        """The policy the settings describe."""
        return cls(
            messages=_rules(retention, "messages_days"),
            audio_retention=_rules(retention, "audio_days"),
            audio=AudioPolicy(capture.store_audio, dict(capture.store_audio_agents)),
        )

    def rules(self, kind: str) -> RetentionRules:
        """The retention rules for ``messages`` or ``audio``."""
        return self.messages if kind == "messages" else self.audio_retention

    def expired(
        self, kind: str, device: str, agent_id: str | None, created_at: datetime, now: datetime
    ) -> bool:
        """True if a record of ``kind`` created at ``created_at`` is past its retention."""
        days = days_for(self.rules(kind), device, agent_id)
        return days is not None and created_at < now - timedelta(days=days)

    @property
    def retains(self) -> bool:
        """True if any retention rule can delete something."""
        return any(_any_days(self.rules(kind)) for kind in KINDS)

    @property
    def expires_messages(self) -> bool:
        """True if any retention rule can make a message too old to keep."""
        return _any_days(self.messages)

    @property
    def needs_agents(self) -> bool:
        """True if a decision can depend on a message's agent."""
        return bool(
            self.messages.agents
            or self.messages.overridden_agents
            or self.audio_retention.agents
            or self.audio_retention.overridden_agents
            or self.audio.agents
        )


KEEP_EVERYTHING = DataPolicy()


def days_for(rules: RetentionRules, device: str, agent_id: str | None) -> int | None:
    """The days a record of ``device`` and ``agent_id`` is kept (None: for ever)."""
    if device in rules.overridden_devices:
        return rules.devices.get(device)
    if agent_id is not None and agent_id in rules.overridden_agents:
        return rules.agents.get(agent_id)
    return rules.default


def _rules(retention: RetentionSettings, name: str) -> RetentionRules:
    def overriding(overrides: dict[str, RetentionRule]) -> dict[str, int | None]:
        return {
            key: getattr(rule, name)
            for key, rule in overrides.items()
            if name in rule.model_fields_set
        }

    devices, agents = overriding(retention.devices), overriding(retention.agents)
    return RetentionRules(
        devices={key: days for key, days in devices.items() if days is not None},
        agents={key: days for key, days in agents.items() if days is not None},
        default=getattr(retention, name),
        overridden_devices=frozenset(devices),
        overridden_agents=frozenset(agents),
    )


def _any_days(rules: RetentionRules) -> bool:
    return bool(rules.devices or rules.agents or rules.default is not None)
