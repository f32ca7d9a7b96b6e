"""Start-up objects stay out of the garbage collector's passes while a process serves."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from xiaozhi_server.gc_pauses import BATCH_YOUNG_THRESHOLD, frozen_start_up


class Node:
    """Something that can be part of a reference cycle (only the collector frees it)."""

    partner: Node | None = None


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    """Nothing frozen before or after; no automatic collection, only the tests' own."""
    was_enabled = gc.isenabled()
    gc.disable()
    gc.unfreeze()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def cycle() -> weakref.ref[Node]:
    node = Node()
    node.partner = node
    return weakref.ref(node)


def test_objects_that_exist_at_start_up_are_skipped_by_collections_while_it_runs() -> None:
    made_before = cycle()
    with frozen_start_up():
        assert gc.get_freeze_count() > 0
        gc.collect()
        assert made_before() is not None


def test_objects_made_while_it_runs_are_collected_as_usual() -> None:
    with frozen_start_up():
        made_during = cycle()
        gc.collect()
        assert made_during() is None


def test_everything_is_collected_again_once_it_ends() -> None:
    made_before = cycle()
    with frozen_start_up():
        pass
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert made_before() is None


def test_a_batch_process_collects_its_youngest_objects_less_often_until_it_ends() -> None:
    before = gc.get_threshold()
    with frozen_start_up(BATCH_YOUNG_THRESHOLD):
        assert gc.get_threshold() == (BATCH_YOUNG_THRESHOLD, *before[1:])
    assert gc.get_threshold() == before
