"""What `config show` prints: the effective settings as a current settings file, no secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr

from xiaozhi_server.config import Settings, load_settings
from xiaozhi_server.ops.config_view import effective_yaml

pytestmark = pytest.mark.usefixtures("clean_environment")


def test_without_secrets_the_output_is_a_version_2_file_that_loads_to_the_same_settings(
    tmp_path: Path,
) -> None:
    settings = Settings.model_validate(
        {"server": {"port": 9000}, "sync_service": {"enabled": True, "interval": 0.5}}
    )
    text = effective_yaml(settings)
    assert text.startswith("config_version: 2\n")
    path = tmp_path / "shown.yaml"
    path.write_text(text, encoding="utf-8")
    assert load_settings(path) == settings


def test_every_secret_is_masked_and_an_unset_one_stays_visibly_unset() -> None:
    settings = Settings.model_validate(
        {
            "storage": {"url": "mysql://hub:pw-store@db/hub"},
            "esp32_server": {
                "manager_api_url": "http://ops:pw-api@web:8002/xiaozhi",
                "db": {"password": "pw-db"},
            },
            "notification": {"redis_url": "redis://:pw-redis@cache:6379/0"},
            "auth": {"report_secret": "pw-report", "api_tokens": ["pw-token"]},
        }
    )
    text = effective_yaml(settings)
    assert "pw-" not in text
    shown = yaml.safe_load(text)
    assert shown["esp32_server"]["db"]["password"] == "***"
    assert shown["auth"]["api_tokens"] == ["***"]
    assert shown["auth"]["admin_password"] is None
    assert shown["notification"]["redis_url"] == "redis://:***@cache:6379/0"
    settings.auth.admin_password = SecretStr("pw-admin")
    assert yaml.safe_load(effective_yaml(settings))["auth"]["admin_password"] == "***"


def test_a_token_with_a_role_shows_its_role_and_name_but_not_the_token() -> None:
    settings = Settings.model_validate(
        {
            "auth": {
                "api_tokens": ["pw-plain", {"token": "pw-wall", "role": "viewer", "name": "wall"}]
            }
        }
    )
    shown = yaml.safe_load(effective_yaml(settings))["auth"]["api_tokens"]
    assert shown == ["***", {"token": "***", "role": "viewer", "name": "wall"}]
