"""``xiaozhi-server config show``: the effective settings as YAML, every secret masked."""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import SecretStr

from xiaozhi_server.config import SECRET_KEYS, Settings, mask_url
from xiaozhi_server.config_migrations import CURRENT_VERSION, VERSION_KEY

MASK = "***"


def effective_yaml(settings: Settings) -> str:
    """``settings`` as a settings file of the current version, with no secret in it."""
    data = {VERSION_KEY: CURRENT_VERSION} | _masked(settings.model_dump())
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _masked(node: dict[str, Any]) -> dict[str, Any]:
    return {key: _masked_value(key, value) for key, value in node.items()}


def _masked_value(key: str, value: Any) -> Any:
    if isinstance(value, dict):
        return _masked(value)
    if isinstance(value, list):
        return [_masked_value(key, item) for item in value]
    if isinstance(value, SecretStr):
        # an empty secret is shown as empty: that it is unset is worth seeing, and no secret
        return MASK if value.get_secret_value() else ""
    if isinstance(value, str) and key.endswith("url"):
        return mask_url(value)
    if key in SECRET_KEYS and value not in (None, ""):
        return MASK
    return value
