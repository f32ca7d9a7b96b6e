"""A purge batch is sized by how long the last one held the writer."""

from __future__ import annotations

from xiaozhi_server.privacy.retention import BATCH_SECONDS, MIN_BATCH, next_batch_size


def test_a_batch_that_took_too_long_is_followed_by_a_proportionally_smaller_one() -> None:
    assert next_batch_size(200, 200, BATCH_SECONDS * 4) == 50


def test_a_quick_batch_is_followed_by_a_larger_one() -> None:
    assert next_batch_size(50, 200, BATCH_SECONDS / 4) == 100


def test_batches_never_grow_past_the_configured_size() -> None:
    assert next_batch_size(150, 200, BATCH_SECONDS / 10) == 200


def test_batches_never_shrink_below_the_minimum() -> None:
    assert next_batch_size(200, 200, 1000.0) == MIN_BATCH


def test_a_batch_near_the_target_keeps_its_size() -> None:
    assert next_batch_size(120, 200, BATCH_SECONDS * 0.8) == 120
