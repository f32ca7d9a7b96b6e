"""The store's aggregate rows and search index against a recount from scratch (for tests of
deletions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.search_terms import grams, tokens
from xiaozhi_server.store.tables import devices, messages, search_grams, sessions


async def assert_aggregates_exact(store: Store) -> None:
    """Every session's and device's counts and times equal a recount of the messages, no
    session is left without messages, and the search index holds exactly their grams."""
    await assert_search_index_exact(store)
    async with store.read() as connection:
        per_session = {
            row.session_id: (row.n, row.first, row.last, row.device)
            for row in await connection.execute(
                select(
                    messages.c.session_id,
                    func.count().label("n"),
                    func.min(messages.c.created_at).label("first"),
                    func.max(messages.c.created_at).label("last"),
                    func.min(messages.c.device).label("device"),
                ).group_by(messages.c.session_id)
            )
        }
        stored_sessions = {
            row.session_id: (row.message_count, row.first_message_at, row.last_message_at)
            for row in await connection.execute(select(sessions))
        }
        stored_devices = {row.mac: row for row in await connection.execute(select(devices))}
    assert stored_sessions == {key: value[:3] for key, value in per_session.items()}
    expected: dict[str, list[Any]] = {}
    for n, first, last, device in per_session.values():
        total = expected.setdefault(device, [0, 0, first, last])
        total[0] += n
        total[1] += 1
        total[2], total[3] = min(total[2], first), max(total[3], last)
    for mac, row in stored_devices.items():
        counts = expected.get(mac, [0, 0, None, None])
        stored = [row.message_count, row.session_count, row.first_seen_at, row.last_seen_at]
        assert stored == counts, f"device {mac}: stored {stored}, recounted {counts}"


async def assert_search_index_exact(store: Store) -> None:
    """The search index holds every gram of every stored message, and nothing else (no
    entry left behind by a deleted message)."""
    async with store.read() as connection:
        texts = (await connection.execute(select(messages.c.id, messages.c.content))).all()
        if store.dialect == "sqlite":
            fts = await connection.execute(text("SELECT rowid, terms FROM message_grams"))
            stored = {tuple(row) for row in fts}
            expected = {(row.id, tokens(grams(row.content))) for row in texts}
        else:
            stored = {tuple(row) for row in await connection.execute(select(search_grams))}
            expected = {(gram, row.id) for row in texts for gram in grams(row.content)}
    assert len(stored - expected) == 0, "entries of deleted messages are left in the index"
    assert len(expected - stored) == 0, "stored messages are missing from the index"
