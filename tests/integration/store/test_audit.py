"""The audit trail's store: entries come back newest first, whole, page by page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from xiaozhi_server.store import audit
from xiaozhi_server.store.audit import AuditEntry
from xiaozhi_server.store.database import Store

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


async def test_entries_come_back_newest_first_with_their_detail(store: Store) -> None:
    await audit.record(store, AuditEntry("admin", "user", "sign_in", address="127.0.0.1"), T0)
    erase = AuditEntry(
        "admin", "user", "erase", "device a0:85:e3:12:34:56", detail={"messages": 12}
    )
    await audit.record(store, erase, T0 + timedelta(seconds=1))
    rows = await audit.entries(store, limit=10)
    assert [(r["action"], r["actor"]) for r in rows] == [("erase", "admin"), ("sign_in", "admin")]
    assert rows[0]["detail"] == {"messages": 12}
    assert rows[0]["target"] == "device a0:85:e3:12:34:56"
    assert rows[1]["address"] == "127.0.0.1"
    assert rows[0]["at"] == T0 + timedelta(seconds=1)


async def test_entries_page_backwards_by_id_and_filter_by_action(store: Store) -> None:
    for n in range(5):
        await audit.record(store, AuditEntry(f"user-{n}", "user", "export" if n % 2 else "sign_in"))
    first = await audit.entries(store, limit=2)
    second = await audit.entries(store, limit=2, before_id=first[-1]["id"])
    assert [r["actor"] for r in first + second] == ["user-4", "user-3", "user-2", "user-1"]
    exports = await audit.entries(store, limit=10, action="export")
    assert [r["actor"] for r in exports] == ["user-3", "user-1"]
