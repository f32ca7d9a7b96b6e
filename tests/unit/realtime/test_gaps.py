"""Where a lost Redis subscription may have opened a gap in the events an instance got."""

from __future__ import annotations

from xiaozhi_server.realtime.gaps import GapTracker


def tracker(*highest_ids: int) -> GapTracker:
    """A tracker whose store answers ``highest_ids``, one per note."""
    answers = iter(highest_ids)

    async def highest_id() -> int:
        return next(answers)

    return GapTracker(highest_id)


async def test_the_first_subscription_replays_from_the_store_at_start() -> None:
    gaps = tracker(40, 41)
    await gaps.start()
    assert await gaps.subscribed() == 40


async def test_a_subscription_never_lost_replays_nothing() -> None:
    gaps = tracker(40, 41, 45, 50)
    await gaps.start()
    await gaps.subscribed()
    await gaps.note()
    await gaps.note()
    assert await gaps.subscribed() is None


async def test_a_lost_subscription_replays_from_the_older_of_the_last_two_notes() -> None:
    # The newer note may have been taken after the connection died unnoticed.
    gaps = tracker(10, 20, 30, 40, 99)
    await gaps.start()
    await gaps.subscribed()  # notes 20
    await gaps.note()  # 30
    await gaps.note()  # 40
    gaps.lost()
    assert await gaps.subscribed() == 30


async def test_failed_reconnects_keep_the_gap_where_it_began() -> None:
    gaps = tracker(10, 20, 30, 99)
    await gaps.start()
    await gaps.subscribed()
    await gaps.note()
    gaps.lost()
    gaps.lost()
    assert await gaps.subscribed() == 20


async def test_a_store_that_does_not_answer_leaves_the_last_notes() -> None:
    answers = iter([10, 20])

    async def highest_id() -> int:
        value = next(answers, None)
        if value is None:
            raise ConnectionError("store down")
        return value

    gaps = GapTracker(highest_id)
    await gaps.start()
    await gaps.subscribed()  # notes 20
    await gaps.note()  # fails
    gaps.lost()
    assert await gaps.subscribed() == 20
