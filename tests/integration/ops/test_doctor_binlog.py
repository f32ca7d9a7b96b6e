"""`xiaozhi-server doctor` in binlog mode, against a MariaDB that writes a row binlog."""

from __future__ import annotations

from pathlib import Path

from tests.integration.ops.test_doctor import doctor
from tests.support.servers import user_who_may_only_read
from tests.support.upstream import Upstream


def binlog_env(tmp_path: Path, upstream: Upstream) -> dict[str, str]:
    values = upstream.environment(f"sqlite+aiosqlite:///{tmp_path / 'hub.db'}")
    return values | {"XIAOZHI_SYNC_SERVICE__MODE": "binlog", "XIAOZHI_ESP32_SERVER__TIMEOUT": "3"}


def test_a_row_binlog_and_a_replicating_user_pass(
    binlog_upstream: Upstream, tmp_path: Path
) -> None:
    result = doctor(binlog_env(tmp_path, binlog_upstream), tmp_path)
    assert "[ok  ] binlog is ROW and the user may replicate: ROW, replication allowed" in (
        result.stdout
    )


def test_a_user_without_replication_grants_is_told_what_to_grant(
    binlog_upstream: Upstream, tmp_path: Path
) -> None:
    env = binlog_env(tmp_path, binlog_upstream)
    with user_who_may_only_read(binlog_upstream.server, binlog_upstream.database) as login:
        env["XIAOZHI_ESP32_SERVER__DB__USER"], env["XIAOZHI_ESP32_SERVER__DB__PASSWORD"] = login
        result = doctor(env, tmp_path)
    assert result.returncode == 1
    assert "the user lacks REPLICATION SLAVE and REPLICATION CLIENT" in result.stdout
    assert "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the user" in result.stdout
