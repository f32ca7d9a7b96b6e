"""Older settings keys: carried forward with one warning each, or refused when ambiguous."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.settings_files import config_error, write_settings
from xiaozhi_server.config import load_settings, read_settings

EXAMPLE = Path(__file__).parents[2] / "config" / "xiaozhi-server.example.yaml"
SEED_MANAGER_API = "http://xiaozhi-esp32-server-web:8002/xiaozhi"

pytestmark = pytest.mark.usefixtures("clean_environment")


def test_the_seed_api_url_becomes_manager_api_url_with_a_warning(tmp_path: Path) -> None:
    settings, warnings = read_settings(
        write_settings(tmp_path, f"esp32_server:\n  api_url: {SEED_MANAGER_API}\n")
    )
    assert settings.esp32_server.manager_api_url == SEED_MANAGER_API
    assert warnings == [
        f"{tmp_path / 'settings.yaml'}: esp32_server.api_url is deprecated, "
        "use esp32_server.manager_api_url (its value was applied)"
    ]


def test_the_core_websocket_url_is_ignored_and_the_warning_says_nothing_is_needed(
    tmp_path: Path,
) -> None:
    _, warnings = read_settings(
        write_settings(tmp_path, "esp32_server:\n  websocket_url: ws://core:8000/xiaozhi/v1/\n")
    )
    [warning] = warnings
    assert "esp32_server.websocket_url is deprecated and ignored" in warning
    assert "reports over HTTP" in warning
    assert "nothing to set" in warning


def test_the_feed_port_is_ignored_and_the_warning_points_to_server_port(tmp_path: Path) -> None:
    settings, warnings = read_settings(
        write_settings(tmp_path, "notification:\n  websocket_port: 8005\n")
    )
    [warning] = warnings
    assert "notification.websocket_port is deprecated and ignored" in warning
    assert "/ws/admin on server.port; use server.port" in warning
    assert settings.server.port == 8004


def test_a_whole_seed_file_loads_with_one_warning_line_per_older_key(tmp_path: Path) -> None:
    seed = (
        f"esp32_server:\n  api_url: {SEED_MANAGER_API}\n"
        "  websocket_url: ws://core:8000/xiaozhi/v1/\n"
        "notification:\n  enabled: true\n  websocket_port: 8005\n"
    )
    _, warnings = read_settings(write_settings(tmp_path, seed))
    assert len(warnings) == 3
    assert all("\n" not in warning for warning in warnings)


def test_the_example_file_loads_without_warnings() -> None:
    assert read_settings(EXAMPLE)[1] == []


def test_old_and_new_key_with_different_values_is_an_error_naming_both(tmp_path: Path) -> None:
    message = config_error(
        write_settings(
            tmp_path,
            "esp32_server:\n  api_url: http://one:8002/xiaozhi\n"
            "  manager_api_url: http://two:8002/xiaozhi\n",
        )
    )
    assert "esp32_server.api_url (deprecated) and esp32_server.manager_api_url" in message
    assert "keep only esp32_server.manager_api_url" in message


def test_old_and_new_key_with_the_same_value_is_accepted(tmp_path: Path) -> None:
    settings, warnings = read_settings(
        write_settings(
            tmp_path,
            f"esp32_server:\n  api_url: {SEED_MANAGER_API}\n"
            f"  manager_api_url: {SEED_MANAGER_API}\n",
        )
    )
    assert settings.esp32_server.manager_api_url == SEED_MANAGER_API
    assert len(warnings) == 1


def test_a_warning_never_shows_the_value(tmp_path: Path) -> None:
    _, warnings = read_settings(
        write_settings(tmp_path, "esp32_server:\n  api_url: http://user:hunter2@web:8002/xiaozhi\n")
    )
    assert "hunter2" not in " ".join(warnings)


def test_a_config_version_newer_than_known_is_refused(tmp_path: Path) -> None:
    message = config_error(write_settings(tmp_path, "config_version: 3\n"))
    assert "config_version 3 is newer than this xiaozhi-server understands (2)" in message
    assert "upgrade xiaozhi-server" in message


def test_a_config_version_that_is_not_a_whole_number_is_refused(tmp_path: Path) -> None:
    message = config_error(write_settings(tmp_path, "config_version: two\n"))
    assert "config_version must be a whole number from 1 to 2, not 'two'" in message


def test_in_a_version_2_file_an_older_key_is_unknown_and_the_error_says_what_it_became(
    tmp_path: Path,
) -> None:
    message = config_error(
        write_settings(
            tmp_path, f"config_version: 2\nesp32_server:\n  api_url: {SEED_MANAGER_API}\n"
        )
    )
    assert "esp32_server.api_url: unknown key" in message
    assert "renamed to esp32_server.manager_api_url in config_version 2" in message


def test_an_older_environment_name_is_accepted_and_the_warning_names_the_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XIAOZHI_ESP32_SERVER__API_URL", SEED_MANAGER_API)
    settings, warnings = read_settings()
    assert settings.esp32_server.manager_api_url == SEED_MANAGER_API
    assert warnings == [
        "environment: XIAOZHI_ESP32_SERVER__API_URL is deprecated, "
        "use XIAOZHI_ESP32_SERVER__MANAGER_API_URL (its value was applied)"
    ]


def test_older_and_newer_environment_names_with_different_values_are_an_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XIAOZHI_ESP32_SERVER__API_URL", "http://one:8002/xiaozhi")
    monkeypatch.setenv("XIAOZHI_ESP32_SERVER__MANAGER_API_URL", "http://two:8002/xiaozhi")
    assert "keep only XIAOZHI_ESP32_SERVER__MANAGER_API_URL" in config_error(None)


def test_the_environment_overrides_an_older_key_in_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XIAOZHI_ESP32_SERVER__MANAGER_API_URL", "http://env:8002/xiaozhi")
    path = write_settings(tmp_path, "esp32_server:\n  api_url: http://file:8002/xiaozhi\n")
    assert load_settings(path).esp32_server.manager_api_url == "http://env:8002/xiaozhi"


def test_load_settings_logs_each_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        load_settings(write_settings(tmp_path, "notification:\n  websocket_port: 8005\n"))
    assert [record.levelno for record in caplog.records] == [logging.WARNING]
    assert "notification.websocket_port is deprecated" in caplog.records[0].getMessage()


def test_an_error_in_a_moved_value_says_where_it_was_read_from(tmp_path: Path) -> None:
    message = config_error(write_settings(tmp_path, "esp32_server:\n  api_url: not-a-url\n"))
    assert "esp32_server.manager_api_url = 'not-a-url': expected an http:// or https:// URL" in (
        message
    )
    assert "note: " in message
    assert "esp32_server.api_url is deprecated, use esp32_server.manager_api_url" in message
