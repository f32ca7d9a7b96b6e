"""The subscriber limit: per process, or shared by every worker of one serve."""

from __future__ import annotations

import multiprocessing

from xiaozhi_server.realtime.registry import FeedRegistry, SharedPlaces


def test_a_single_process_refuses_the_client_after_the_limit() -> None:
    registry = FeedRegistry(2)
    assert [registry.try_join() for _ in range(3)] == [True, True, False]
    registry.leave()
    assert registry.try_join()


def test_workers_share_one_limit_and_each_sees_the_total() -> None:
    counts = multiprocessing.get_context("spawn").Array("i", 2)
    first = FeedRegistry(3, SharedPlaces(counts, 0))
    second = FeedRegistry(3, SharedPlaces(counts, 1))
    assert [first.try_join(), first.try_join(), second.try_join()] == [True, True, True]
    assert not second.try_join()
    assert first.clients == second.clients == 3
    first.leave()
    assert second.try_join()
