"""``xiaozhi-server erase`` and ``xiaozhi-server retention``, run as a person runs them."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.seed import LIVING_ROOM, seed


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A seeded SQLite store named in the environment, nothing else configured."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}"
    asyncio.run(seed(url))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("XIAOZHI_")}
    return clean | {"XIAOZHI_STORAGE__URL": url}


def run(
    *args: str, env: dict[str, str], cwd: Path, answer: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xiaozhi_server", *args],
        env=env,
        cwd=cwd,
        input=answer,
        capture_output=True,
        text=True,
        timeout=120,
    )


def messages(cwd: Path) -> int:
    with sqlite3.connect(cwd / "hub.db") as connection:
        return int(connection.execute("SELECT COUNT(*) FROM messages").fetchone()[0])


def test_erase_asks_first_naming_the_device_and_the_counts_and_no_keeps_everything(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run("erase", "device", "AA-BB-CC-00-00-01", env=env, cwd=tmp_path, answer="n\n")
    assert result.stdout.startswith(
        "Erase 2 sessions, 6 messages and 1 audio clip (7.9 KB)"
        f" of device 客厅小智 ({LIVING_ROOM})?"
    )
    assert result.returncode == 1
    assert "nothing erased" in result.stderr
    assert messages(tmp_path) == 8


def test_erase_with_yes_erases_without_asking_and_says_what_went(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run("erase", "session", "s-music", "--yes", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "erased 1 session, 2 messages and 0 audio clips of session 播放音乐 (s-music)"
    )
    assert messages(tmp_path) == 6


def test_erase_of_an_unknown_id_fails_and_says_so(env: dict[str, str], tmp_path: Path) -> None:
    result = run("erase", "agent", "nobody", "--yes", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no agent 'nobody' in the store"


def test_erase_refuses_an_unknown_kind(env: dict[str, str], tmp_path: Path) -> None:
    result = run("erase", "user", "x", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "session" in result.stderr


def test_retention_dry_run_says_what_would_go_per_rule_agent_and_device_and_keeps_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    env["XIAOZHI_RETENTION__MESSAGES_DAYS"] = "1"
    result = run("retention", "--dry-run", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "retention would delete: 8 messages"
    assert "    agent-zh: 6 messages" in lines
    assert f"    {LIVING_ROOM}: 6 messages" in lines
    assert messages(tmp_path) == 8


def test_retention_deletes_what_is_due_now(env: dict[str, str], tmp_path: Path) -> None:
    env["XIAOZHI_RETENTION__MESSAGES_DAYS"] = "1"
    result = run("retention", env=env, cwd=tmp_path)
    assert result.stdout.startswith("retention deleted: 8 messages, 3 emptied sessions")
    assert messages(tmp_path) == 0


def test_retention_without_rules_deletes_nothing_and_says_why(
    env: dict[str, str], tmp_path: Path
) -> None:
    result = run("retention", env=env, cwd=tmp_path)
    assert result.returncode == 0
    assert "not configured" in result.stdout
    assert messages(tmp_path) == 8
