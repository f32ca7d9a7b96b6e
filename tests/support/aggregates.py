"""The store's aggregate rows against a recount from scratch (for tests of deletions)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from xiaozhi_server.store.database import Store
from xiaozhi_server.store.tables import devices, messages, sessions


async def assert_aggregates_exact(store: Store) -> None:
    """Every session's and device's counts and times equal a recount of the messages, and
    no session is left without messages."""
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
