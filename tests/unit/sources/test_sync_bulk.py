"""When a copy leaves the statistics rollups to one recount at its end (sync.bulk_copy)."""

from __future__ import annotations

from xiaozhi_server.sources.sync import BULK_MIN_ROWS, bulk_copy


def test_a_first_copy_of_many_rows_recounts_once_at_the_end() -> None:
    assert bulk_copy(behind=1_000_000, stored=0)


def test_a_copy_of_fewer_rows_than_the_minimum_keeps_the_rollups_batch_by_batch() -> None:
    assert not bulk_copy(behind=BULK_MIN_ROWS - 1, stored=0)


def test_a_catch_up_smaller_than_the_store_keeps_the_rollups_batch_by_batch() -> None:
    assert not bulk_copy(behind=200_000, stored=1_000_000)


def test_a_catch_up_larger_than_the_store_recounts_once_at_the_end() -> None:
    assert bulk_copy(behind=200_000, stored=150_000)
