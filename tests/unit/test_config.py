"""Settings: where they come from, how they override, and how a wrong one is reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from tests.support.settings_files import config_error, write_settings
from xiaozhi_server.config import (
    DEFAULT_STORAGE_URL,
    ApiToken,
    Settings,
    load_settings,
    mask_url,
)

EXAMPLE = Path(__file__).parents[2] / "config" / "xiaozhi-server.example.yaml"

pytestmark = pytest.mark.usefixtures("clean_environment")


def test_without_a_file_the_defaults_serve_sqlite_on_port_8004() -> None:
    settings = load_settings()
    assert (settings.server.host, settings.server.port) == ("127.0.0.1", 8004)
    assert settings.storage.url == DEFAULT_STORAGE_URL
    assert settings.sync_service.interval == 30
    assert settings.esp32_server.db_timezone == "Asia/Shanghai"


def test_a_file_given_by_path_is_read(tmp_path: Path) -> None:
    settings = load_settings(
        write_settings(tmp_path, "server:\n  port: 9000\nsync_service:\n  interval: 0.5\n")
    )
    assert settings.server.port == 9000
    assert settings.sync_service.interval == 0.5


def test_xiaozhi_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XIAOZHI_CONFIG", str(write_settings(tmp_path, "server:\n  port: 9001\n")))
    assert load_settings().server.port == 9001


def test_config_dir_file_is_found_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "xiaozhi-server.yaml").write_text("server:\n  port: 9002\n")
    assert load_settings().server.port == 9002


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_settings(tmp_path, "storage:\n  url: sqlite:///one.db\n  auto_migrate: false\n")
    monkeypatch.setenv("XIAOZHI_STORAGE__URL", "mysql://hub:pw@db:3306/hub")
    monkeypatch.setenv("XIAOZHI_ESP32_SERVER__DB__PORT", "3307")
    settings = load_settings(path)
    assert settings.storage.url == "mysql+asyncmy://hub:pw@db:3306/hub"
    assert settings.storage.auto_migrate is False
    assert settings.esp32_server.db.port == 3307


def test_an_unknown_key_is_named_with_the_keys_that_exist(tmp_path: Path) -> None:
    message = config_error(write_settings(tmp_path, "storage:\n  ulr: sqlite:///x.db\n"))
    assert "storage.ulr: unknown key" in message
    assert "expected one of: auto_migrate, sqlite_writer, url" in message


def test_a_wrong_type_names_the_key_the_value_and_what_is_expected(tmp_path: Path) -> None:
    message = config_error(write_settings(tmp_path, "server:\n  port: eighty\n"))
    assert "server.port = 'eighty'" in message
    assert "valid integer" in message


def test_a_bad_storage_url_says_what_urls_look_like(tmp_path: Path) -> None:
    message = config_error(write_settings(tmp_path, "storage:\n  url: oracle://x/y\n"))
    assert "storage.url" in message
    assert "sqlite+aiosqlite:///" in message


def test_a_bad_time_zone_is_refused(tmp_path: Path) -> None:
    assert "IANA time zone" in config_error(
        write_settings(tmp_path, "esp32_server:\n  db_timezone: Mars/Base\n")
    )


def test_unreadable_yaml_reports_the_line(tmp_path: Path) -> None:
    message = config_error(write_settings(tmp_path, "server:\n  port: [8004\n"))
    assert "not valid YAML at line" in message


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    assert "cannot read settings file" in config_error(tmp_path / "nope.yaml")


def test_secrets_never_appear_in_repr_or_errors(tmp_path: Path) -> None:
    text = (
        "storage:\n  url: mysql://hub:hunter2@db/hub\n"
        "esp32_server:\n  db:\n    password: hunter2\n"
        "auth:\n  report_secret: hunter2\n  api_tokens: [hunter2]\n  admin_password: hunter2\n"
    )
    assert "hunter2" not in repr(load_settings(write_settings(tmp_path, text)))
    broken = text + "  bogus: 1\nserver:\n  port: 99999\n"
    broken = broken.replace("password: hunter2\n", "password: [hunter2]\n")
    assert "hunter2" not in config_error(write_settings(tmp_path, broken))


def test_the_cli_reports_a_wrong_file_without_a_traceback(tmp_path: Path) -> None:
    path = write_settings(tmp_path, "server:\n  port: -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "xiaozhi_server", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "server.port = -1" in result.stderr
    assert "Traceback" not in result.stderr


def _keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            keys |= _keys(annotation, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def _yaml_keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        if isinstance(value, dict) and value:  # an empty mapping ({}) is a key's value
            keys |= _yaml_keys(value, f"{prefix}{name}.")
        else:
            keys.add(prefix + name)
    return keys


def test_the_example_file_documents_every_key_and_loads() -> None:
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert example.pop("config_version") == 2
    assert _yaml_keys(example) == _keys(Settings)
    load_settings(EXAMPLE)


def test_every_key_line_in_the_example_has_a_comment() -> None:
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#") and not stripped.endswith(":"):
            assert "#" in stripped, f"undocumented: {line}"


def test_a_bad_url_is_shown_with_its_password_masked(tmp_path: Path) -> None:
    message = config_error(
        write_settings(tmp_path, "storage:\n  url: oracle://hub:hunter2@db/hub\n")
    )
    assert "oracle://hub:***@db/hub" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("mysql+asyncmy://hub:hunter2@db:3306/hub", "mysql+asyncmy://hub:***@db:3306/hub"),
        ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
        (
            "unix:///run/redis.sock?password=hunter2&db=1",
            "unix:///run/redis.sock?password=***&db=1",
        ),
        ("sqlite+aiosqlite:///./data/hub.db", "sqlite+aiosqlite:///./data/hub.db"),
    ],
)
def test_a_password_inside_any_url_is_masked_and_the_rest_kept(url: str, shown: str) -> None:
    assert mask_url(url) == shown


def test_a_plain_api_token_is_an_admins_and_a_mapping_names_its_role(tmp_path: Path) -> None:
    settings = load_settings(
        write_settings(
            tmp_path,
            "auth:\n  api_tokens:\n    - old-token\n"
            "    - {token: wall-token, role: viewer, name: wall-display}\n",
        )
    )
    plain, named = settings.auth.api_tokens
    assert isinstance(named, ApiToken)
    assert not isinstance(plain, ApiToken)
    assert (named.role, named.name, named.token.get_secret_value()) == (
        "viewer",
        "wall-display",
        "wall-token",
    )


@pytest.mark.parametrize(
    ("tokens", "named"),
    [
        ("[{token: t1}]", "role"),
        ("[{token: t1, role: owner}]", "role"),
        ("[t1, {token: t1, role: viewer}]", "the same token is listed twice"),
    ],
)
def test_a_token_without_a_known_role_or_listed_twice_is_refused(
    tmp_path: Path, tokens: str, named: str
) -> None:
    message = config_error(write_settings(tmp_path, f"auth:\n  api_tokens: {tokens}\n"))
    assert named in message
    assert "t1" not in message  # the token itself is never shown


def test_privacy_mask_takes_the_four_kinds_and_names_them_when_wrong(tmp_path: Path) -> None:
    path = write_settings(tmp_path, "privacy:\n  mask: [phone, email, id_card, bank_card]\n")
    assert set(load_settings(path).privacy.mask) == {"phone", "email", "id_card", "bank_card"}
    message = config_error(write_settings(tmp_path, "privacy:\n  mask: [phones]\n"))
    assert "privacy.mask.0" in message
    assert "'phone'" in message


def test_nothing_is_masked_by_default() -> None:
    assert load_settings().privacy.mask == []
