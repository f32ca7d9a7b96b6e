"""The sync leader's lock outlives server settings that end idle transactions."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.engine import make_url

from tests.support.postgres import PostgreSQL
from tests.support.servers import free_port
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.leader import Leadership


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
async def test_the_leader_keeps_the_lead_where_idle_transactions_are_ended(
    store_url: str, postgresql: PostgreSQL
) -> None:
    database = make_url(store_url).database
    # a common production setting; it would end a lock connection left inside a transaction
    postgresql.sql(f"ALTER DATABASE {database} SET idle_in_transaction_session_timeout = '100ms'")
    first, second = Store(store_url), Store(store_url)
    try:
        leader, standby = Leadership(first), Leadership(second)
        assert await leader.acquire()
        await asyncio.sleep(1)  # ten times the timeout
        assert not await standby.acquire()
        await leader.release()
        assert await standby.acquire()
        await standby.release()
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("store_url", ["mariadb", "postgresql"], indirect=True)
async def test_a_standby_asking_an_unreachable_store_is_told_no_and_may_ask_again(
    store_url: str,
) -> None:
    unreachable = make_url(store_url).set(port=free_port())
    store = Store(unreachable.render_as_string(hide_password=False))
    try:
        assert not await Leadership(store).acquire()  # no exception: the standby goes on
    finally:
        await store.close()
