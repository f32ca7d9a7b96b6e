"""`xiaozhi-server doctor`, with each failure made for real."""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.manager_api import manager_api_stand_in
from tests.support.servers import free_port
from tests.support.upstream import Upstream


@pytest.fixture
def env(tmp_path: Path, upstream: Upstream) -> dict[str, str]:
    values = upstream.environment(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    values["XIAOZHI_ESP32_SERVER__TIMEOUT"] = "3"
    subprocess.run(
        [sys.executable, "-m", "xiaozhi_server", "db", "upgrade"],
        env=values,
        cwd=tmp_path,
        check=True,
        capture_output=True,
    )
    return values


def doctor(env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xiaozhi_server", "doctor"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_healthy_setup_passes_every_check(env: dict[str, str], tmp_path: Path) -> None:
    result = doctor(env, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "[FAIL]" not in result.stdout
    assert "[ok  ] the user can read the tables" in result.stdout


def test_an_unresolvable_upstream_name_means_not_on_the_docker_network(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["XIAOZHI_ESP32_SERVER__DB__HOST"] = "xiaozhi-esp32-server-db"
    result = doctor(env, tmp_path)
    assert result.returncode == 1
    assert "this host is not on the upstream's Docker network" in result.stdout
    assert "docker network ls" in result.stdout
    assert "external: true" in result.stdout
    assert "[skip] login works" in result.stdout


def test_a_closed_port_is_reported(env: dict[str, str], tmp_path: Path) -> None:
    env["XIAOZHI_ESP32_SERVER__DB__PORT"] = str(free_port())
    result = doctor(env, tmp_path)
    assert result.returncode == 1
    assert "[FAIL] TCP connects" in result.stdout
    assert "nothing accepts connections" in result.stdout


def test_a_wrong_password_is_reported_without_showing_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["XIAOZHI_ESP32_SERVER__DB__PASSWORD"] = "not-the-password-42"
    result = doctor(env, tmp_path)
    assert result.returncode == 1
    assert "[FAIL] login works: the upstream MySQL refused the user or password" in result.stdout
    assert "not-the-password-42" not in result.stdout + result.stderr


async def test_a_missing_table_is_named(
    env: dict[str, str], tmp_path: Path, upstream: Upstream
) -> None:
    await upstream.execute("DROP TABLE ai_agent_chat_title")
    result = doctor(env, tmp_path)
    assert result.returncode == 1
    assert "table ai_agent_chat_title is missing" in result.stdout


def test_binlog_mode_needs_the_binary_log_on(env: dict[str, str], tmp_path: Path) -> None:
    env["XIAOZHI_SYNC_SERVICE__MODE"] = "binlog"
    result = doctor(env, tmp_path)
    assert result.returncode == 1
    assert (
        "[FAIL] binlog is ROW and the user may replicate: the upstream's binary log is off"
        in result.stdout
    )


def test_capture_without_tap_warns_that_a_real_core_cannot_start_and_names_the_fix(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = doctor(env, tmp_path)
    assert result.returncode == 0, result.stdout
    assert (
        "[WARN] a real core can use this hub as its manager-api: capture is on but tap is off "
        "(esp32_server.manager_api_url is not set)" in result.stdout
    )
    assert "fix: set esp32_server.manager_api_url to the real manager-api" in result.stdout


def test_with_tap_to_manager_api_a_real_core_is_served(env: dict[str, str], tmp_path: Path) -> None:
    with manager_api_stand_in() as manager_api:
        env["XIAOZHI_ESP32_SERVER__MANAGER_API_URL"] = manager_api.url
        result = doctor(env, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "[WARN]" not in result.stdout
    assert (
        f"[ok  ] a real core can use this hub as its manager-api: tap forwards to {manager_api.url}"
        in result.stdout
    )


def test_statistics_are_up_to_date_on_a_fresh_store(env: dict[str, str], tmp_path: Path) -> None:
    result = doctor(env, tmp_path)
    assert "[ok  ] statistics rollups up to date" in result.stdout


def test_a_first_copy_stopped_halfway_leaves_a_recount_and_names_the_fix(
    env: dict[str, str], tmp_path: Path
) -> None:
    with contextlib.closing(sqlite3.connect(tmp_path / "hub.db")) as connection, connection:
        connection.execute(
            "INSERT INTO stats_recount (id, requested_at) VALUES (1, '2026-12-02 08:00:00.000')"
        )
    result = doctor(env, tmp_path)
    assert result.returncode == 0, result.stdout
    assert "[WARN] statistics rollups up to date: a first copy stopped before its end" in (
        result.stdout
    )
    assert "fix: run `xiaozhi-server sync --once`" in result.stdout
