"""The event bus: every subscriber gets every event; a slow one is dropped, not waited for."""

from __future__ import annotations

from xiaozhi_server.realtime.bus import Event, EventBus


async def test_every_subscriber_receives_events_in_order() -> None:
    bus = EventBus()
    first, second = bus.subscribe(), bus.subscribe()
    for n in range(3):
        bus.publish(Event("chat_update", {"id": n}))
    first.close()
    second.close()
    assert [e.data["id"] async for e in first] == [0, 1, 2]
    assert [e.data["id"] async for e in second] == [0, 1, 2]


async def test_a_subscriber_that_falls_behind_is_closed_and_others_go_on() -> None:
    bus = EventBus()
    slow, healthy = bus.subscribe(maxsize=2), bus.subscribe(maxsize=100)
    for n in range(5):
        bus.publish(Event("chat_update", {"id": n}))
    assert slow.closed_reason is not None
    assert "too slow" in slow.closed_reason
    assert bus.subscriber_count == 1
    assert bus.dropped == 1
    healthy.close()
    assert [e.data["id"] async for e in healthy] == [0, 1, 2, 3, 4]


async def test_a_filter_passes_only_matching_events() -> None:
    bus = EventBus()
    only_devices = bus.subscribe(accept=lambda event: event.type == "device_update")
    bus.publish(Event("chat_update", {}))
    bus.publish(Event("device_update", {"mac": "m"}))
    only_devices.close()
    assert [e.type async for e in only_devices] == ["device_update"]


def test_the_wire_form_has_iso_times_with_the_zone() -> None:
    from datetime import UTC, datetime

    event = Event("chat_update", {"created_at": datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)})
    wire = event.to_json()
    assert wire["data"]["created_at"] == "2026-01-02T03:04:05.006+00:00"
    assert wire["timestamp"].endswith("+00:00")


def test_published_events_go_to_the_forwarders_and_delivered_ones_do_not() -> None:
    bus = EventBus()
    forwarded: list[str] = []
    bus.forward_to(lambda event: forwarded.append(event.type))
    bus.publish(Event("chat_update", {"id": 1}))
    bus.deliver(Event("device_update", {"mac": "m"}))  # came from elsewhere
    assert forwarded == ["chat_update"]


def test_an_event_read_from_its_wire_form_keeps_that_text() -> None:
    text = Event("chat_update", {"id": 7, "content": "你好"}).to_text()
    event = Event.from_text(text)
    assert (event.type, event.data["content"]) == ("chat_update", "你好")
    assert event.to_text() is text
