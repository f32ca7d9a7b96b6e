"""Device lists sort the same on every store: a missing value last, names without case."""

from __future__ import annotations

from datetime import UTC, datetime

from xiaozhi_server.domain import Batch, DeviceRecord, MessageRecord
from xiaozhi_server.ingest.pipeline import Ingestor
from xiaozhi_server.realtime.bus import EventBus
from xiaozhi_server.store.database import Store
from xiaozhi_server.store.devices import DeviceQuery, list_devices

SPOKE, SILENT, ALSO_SPOKE = "aa:00:00:00:00:01", "aa:00:00:00:00:02", "aa:00:00:00:00:03"


async def listed(store: Store, sort: str, order: str | None = None) -> list[str]:
    rows, _ = await list_devices(store, DeviceQuery(sort, order, limit=10))
    return [row["mac"] for row in rows]


async def three_devices(store: Store, aliases: tuple[str | None, str | None, str | None]) -> None:
    """Two devices that spoke (the first, then the third), one that never did (the second)."""
    said = [
        MessageRecord(mac, "s-" + mac, 1, "你好", datetime(2026, 11, day, tzinfo=UTC), "test")
        for mac, day in ((SPOKE, 1), (ALSO_SPOKE, 2))
    ]
    devices = [
        DeviceRecord(mac, alias=alias)
        for mac, alias in zip((SPOKE, SILENT, ALSO_SPOKE), aliases, strict=True)
    ]
    await Ingestor(store, EventBus()).ingest(Batch(messages=said, devices=devices))


async def test_a_device_that_never_spoke_is_listed_after_those_that_did(store: Store) -> None:
    await three_devices(store, ("a", "b", "c"))
    assert await listed(store, "last_seen") == [ALSO_SPOKE, SPOKE, SILENT]


async def test_by_alias_names_sort_without_case_and_unnamed_devices_come_last(
    store: Store,
) -> None:
    await three_devices(store, ("Bob", None, "alice"))
    assert await listed(store, "alias") == [ALSO_SPOKE, SPOKE, SILENT]


async def test_reversed_the_device_that_never_spoke_still_comes_last(store: Store) -> None:
    await three_devices(store, ("a", "b", "c"))
    assert await listed(store, "last_seen", "asc") == [SPOKE, ALSO_SPOKE, SILENT]


async def test_reversed_by_alias_unnamed_devices_still_come_last(store: Store) -> None:
    await three_devices(store, ("Bob", None, "alice"))
    assert await listed(store, "alias", "desc") == [SPOKE, ALSO_SPOKE, SILENT]


async def test_a_device_only_connected_lately_counts_as_seen_then(store: Store) -> None:
    await three_devices(store, ("a", "b", "c"))
    late = datetime(2026, 11, 3, tzinfo=UTC)
    await Ingestor(store, EventBus()).ingest(
        Batch(devices=[DeviceRecord(SILENT, last_connected_at=late)])
    )
    assert await listed(store, "last_seen") == [SILENT, ALSO_SPOKE, SPOKE]
