"""Which capabilities are on: the ``features`` flags combined with what they need to run."""

from __future__ import annotations

from dataclasses import dataclass

from xiaozhi_server.config import Settings


@dataclass(frozen=True, slots=True)
class FeatureState:
    """One capability: on or off, and why it is off."""

    enabled: bool
    reason: str | None = None


def effective_features(settings: Settings) -> dict[str, FeatureState]:
    """Every capability's effective state under ``settings``."""
    flags = settings.features
    states = {
        "capture": _state(flags.capture),
        "tap": _state(
            flags.tap,
            settings.esp32_server.manager_api_url is not None,
            "esp32_server.manager_api_url is not set",
        ),
        "sync": _state(flags.sync, settings.sync_service.enabled, "sync_service.enabled is false"),
        "notifications": _state(
            flags.notifications, settings.notification.enabled, "notification.enabled is false"
        ),
        "console": _state(flags.console),
        "export": _state(flags.export),
    }
    return {name: FeatureState(*state) for name, state in states.items()}


def _state(flag: bool, ready: bool = True, missing: str = "") -> tuple[bool, str | None]:
    if not flag:
        return False, "turned off by features flag"
    if not ready:
        return False, missing
    return True, None
