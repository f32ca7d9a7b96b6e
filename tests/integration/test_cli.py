"""The xiaozhi-server command, run as a user runs it: a real process on a real port."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.servers import free_port, stop, wait_for_port
from xiaozhi_server.store import migrate


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("XIAOZHI_")}
    return clean | {"XIAOZHI_STORAGE__URL": f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"}


def cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xiaozhi_server", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


TEACHER = ("teacher", "viewer", "chalk-123")
HEAD = ("head", "admin", "office-123")


def add_user(
    user: tuple[str, str, str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``xiaozhi-server users add NAME --role ROLE --password P`` for ``user``."""
    name, role, password = user
    return cli("users", "add", name, "--role", role, "--password", password, env=env, cwd=cwd)


@contextmanager
def running(*args: str, env: dict[str, str], cwd: Path) -> Iterator[tuple[str, Path]]:
    """Run a serving command; yield its base URL and the file its stderr goes to."""
    port = free_port()
    log = cwd / f"server-{port}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "xiaozhi_server", *args, "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for_port(port, process, timeout=60)
            yield f"http://127.0.0.1:{port}", log
        finally:
            stop(process)


@pytest.mark.parametrize("store_url", ["sqlite", "postgresql"], indirect=True)
def test_db_upgrade_current_downgrade_round_trip(
    env: dict[str, str], store_url: str, tmp_path: Path
) -> None:
    env["XIAOZHI_STORAGE__URL"] = store_url
    assert "empty" in cli("db", "current", env=env, cwd=tmp_path).stdout
    assert cli("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    head = migrate.head_revision()
    assert cli("db", "current", env=env, cwd=tmp_path).stdout.strip() == f"{head} (head)"
    assert cli("db", "downgrade", "base", env=env, cwd=tmp_path).returncode == 0
    assert "empty" in cli("db", "current", env=env, cwd=tmp_path).stdout


def test_db_history_lists_the_shipped_migrations(env: dict[str, str], tmp_path: Path) -> None:
    history = cli("db", "history", env=env, cwd=tmp_path).stdout
    assert history.startswith(f"{migrate.head_revision()}: ")
    assert "0001: " in history


def test_db_commands_report_an_unreachable_store_without_a_traceback(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["XIAOZHI_STORAGE__URL"] = f"mysql://nobody:secret-pw@127.0.0.1:{free_port()}/hub"
    result = cli("db", "current", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error:")
    assert "Traceback" not in result.stderr
    assert "secret-pw" not in result.stderr


def test_first_serve_creates_an_admin_and_prints_its_password_once(
    env: dict[str, str], tmp_path: Path
) -> None:
    with running("serve", env=env, cwd=tmp_path) as (url, log):
        password = log.read_text().split("with password: ")[1].split()[0]
        response = httpx.get(f"{url}/api/v2/features", auth=("admin", password))
        assert response.status_code == 200
    with running("serve", env=env, cwd=tmp_path) as (url, log):
        assert httpx.get(f"{url}/healthz").status_code == 200
        assert "password" not in log.read_text()


def test_demo_serves_and_its_messages_are_in_the_store(tmp_path: Path, env: dict[str, str]) -> None:
    del env["XIAOZHI_STORAGE__URL"]
    with running("demo", "--speed", "20", env=env, cwd=tmp_path) as (url, log):
        assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
        assert "Demo admin: admin / " in log.read_text()
        live = _wait_for_live_messages(tmp_path / "data" / "demo.db")
    assert live > 0


def _wait_for_live_messages(database: Path, timeout: float = 60) -> int:
    """Messages created in the last minute (the seeded history is older)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sqlite3.connect(database) as connection:
            (count,) = connection.execute(
                "SELECT count(*) FROM messages WHERE created_at > datetime('now', '-1 minute')"
            ).fetchone()
        if count:
            return int(count)
        time.sleep(0.5)
    return 0


def test_config_show_prints_the_effective_settings_without_any_secret(
    env: dict[str, str], tmp_path: Path
) -> None:
    secrets = {
        "XIAOZHI_STORAGE__URL": "mysql://hub:pw-store-1@db:3306/hub",
        "XIAOZHI_NOTIFICATION__REDIS_URL": "redis://:pw-redis-2@cache:6379/0",
        "XIAOZHI_ESP32_SERVER__DB__PASSWORD": "pw-upstream-3",
        "XIAOZHI_AUTH__REPORT_SECRET": "pw-report-4",
        "XIAOZHI_AUTH__ADMIN_PASSWORD": "pw-admin-5",
        "XIAOZHI_AUTH__API_TOKENS": '["pw-token-6"]',
    }
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "esp32_server:\n  api_url: http://ops:pw-api-7@web:8002/xiaozhi\n", encoding="utf-8"
    )
    result = cli("config", "show", "--config", str(settings), env=env | secrets, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "pw-" not in result.stdout + result.stderr
    shown = yaml.safe_load(result.stdout)
    assert shown["config_version"] == 2
    assert shown["storage"]["url"] == "mysql+asyncmy://hub:***@db:3306/hub"
    assert shown["esp32_server"]["manager_api_url"] == "http://ops:***@web:8002/xiaozhi"
    assert shown["auth"]["api_tokens"] == ["***"]


def test_config_show_reports_each_deprecated_key_on_one_stderr_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        "esp32_server:\n  websocket_url: ws://core:8000/xiaozhi/v1/\n"
        "notification:\n  websocket_port: 8005\n",
        encoding="utf-8",
    )
    result = cli("config", "show", "--config", str(settings), env=env, cwd=tmp_path)
    assert result.returncode == 0
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("warning: ")
    assert "esp32_server.websocket_url is deprecated and ignored" in lines[0]
    assert "use server.port" in lines[1]
    assert "websocket_port" not in result.stdout


def _audit_rows(database: Path) -> list[tuple[str, str, str, str]]:
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT actor_kind, address, action, target FROM audit_log ORDER BY id"
        ).fetchall()
    return [tuple(row) for row in rows]


def test_users_added_from_the_command_line_sign_in_with_their_role(
    env: dict[str, str], tmp_path: Path
) -> None:
    added = add_user(TEACHER, env, tmp_path)
    assert added.returncode == 0, added.stderr
    assert add_user(HEAD, env, tmp_path).returncode == 0
    with running("serve", env=env, cwd=tmp_path) as (url, _):
        teacher = ("teacher", "chalk-123")
        assert httpx.get(f"{url}/api/v2/auth/me", auth=teacher).json()["role"] == "viewer"
        assert httpx.get(f"{url}/api/v2/export", auth=teacher).status_code == 403
        assert httpx.get(f"{url}/api/v2/export", auth=("head", "office-123")).status_code == 200


def test_users_list_shows_each_name_with_its_role(env: dict[str, str], tmp_path: Path) -> None:
    add_user(TEACHER, env, tmp_path)
    add_user(HEAD, env, tmp_path)
    lines = cli("users", "list", env=env, cwd=tmp_path).stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [["head", "admin"], ["teacher", "viewer"]]


def test_users_passwd_asks_twice_without_echo_when_no_password_is_given(
    env: dict[str, str], tmp_path: Path
) -> None:
    add_user(TEACHER, env, tmp_path)
    changed = subprocess.run(
        [sys.executable, "-m", "xiaozhi_server", "users", "passwd", "teacher"],
        input="marker-456\nmarker-456\n",
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert changed.returncode == 0, changed.stderr
    assert "marker-456" not in changed.stdout + changed.stderr
    assert "changed" in changed.stdout


def test_users_remove_refuses_the_last_admin_and_removes_others(
    env: dict[str, str], tmp_path: Path
) -> None:
    add_user(HEAD, env, tmp_path)
    add_user(TEACHER, env, tmp_path)
    refused = cli("users", "remove", "head", env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert (
        refused.stderr.strip() == "error: 'head' is the last admin: make another user admin first"
    )
    assert cli("users", "remove", "teacher", env=env, cwd=tmp_path).returncode == 0
    unknown = cli("users", "remove", "teacher", env=env, cwd=tmp_path)
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "error: no user 'teacher'")


def test_user_changes_from_the_command_line_are_audited_as_local(
    env: dict[str, str], tmp_path: Path
) -> None:
    add_user(TEACHER, env, tmp_path)
    cli("users", "passwd", "teacher", "--password", "chalk-456", env=env, cwd=tmp_path)
    cli("users", "role", "teacher", "admin", env=env, cwd=tmp_path)
    assert _audit_rows(tmp_path / "hub.db") == [
        ("cli", "local", "user_add", "user teacher"),
        ("cli", "local", "user_password", "user teacher"),
        ("cli", "local", "user_role", "user teacher"),
    ]


def test_a_short_password_or_unknown_role_is_refused_plainly(
    env: dict[str, str], tmp_path: Path
) -> None:
    short = cli(
        "users", "add", "teacher", "--role", "viewer", "--password", "abc", env=env, cwd=tmp_path
    )
    assert (short.returncode, short.stderr.strip()) == (
        1,
        "error: password: must be 8 to 256 characters",
    )
    role = cli(
        "users",
        "add",
        "teacher",
        "--role",
        "owner",
        "--password",
        "chalk-123",
        env=env,
        cwd=tmp_path,
    )
    assert role.returncode == 2
    assert "Traceback" not in role.stderr
