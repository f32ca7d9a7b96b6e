"""The upstream connection tells a long query from a stalled one (the frozen server itself
is tests/integration/sources/test_frozen_upstream.py)."""

from __future__ import annotations

import pytest

from tests.support.tcp_proxy import stalling_proxy
from tests.support.upstream import Upstream
from xiaozhi_server.config import Esp32ServerSettings
from xiaozhi_server.sources.upstream_connection import UpstreamConnection, UpstreamStalled


def settings_for(upstream: Upstream, port: int | None = None) -> Esp32ServerSettings:
    db = upstream.db_settings() | ({"port": port} if port else {})
    return Esp32ServerSettings.model_validate({"db": db})


async def test_a_long_query_on_a_live_upstream_is_not_a_stall(upstream: Upstream) -> None:
    connection = UpstreamConnection(settings_for(upstream), stall_timeout=0.3)
    try:
        rows = await connection.rows("SELECT SLEEP(2) AS slept")
    finally:
        connection.close()
    assert rows == [{"slept": 0}]


async def test_a_query_on_a_stalled_path_is_reported_while_the_server_answers(
    upstream: Upstream,
) -> None:
    async with stalling_proxy(upstream.server.port) as proxy:
        connection = UpstreamConnection(settings_for(upstream, proxy.port), stall_timeout=0.5)
        try:
            await connection.rows("SELECT 1 AS ok")  # the connection is open
            proxy.stall()  # it hears nothing more; new connections (the check's) work
            with pytest.raises(UpstreamStalled, match="the connection stalled"):
                await connection.rows("SELECT 2 AS ok")
        finally:
            connection.close()


async def test_after_a_stall_the_next_query_opens_a_new_connection(upstream: Upstream) -> None:
    async with stalling_proxy(upstream.server.port) as proxy:
        connection = UpstreamConnection(settings_for(upstream, proxy.port), stall_timeout=0.5)
        try:
            await connection.rows("SELECT 1 AS ok")
            proxy.stall()
            with pytest.raises(UpstreamStalled):
                await connection.rows("SELECT 2 AS ok")
            assert await connection.rows("SELECT 3 AS ok") == [{"ok": 3}]
        finally:
            connection.close()
