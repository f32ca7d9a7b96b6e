"""What a process built at start-up, kept out of the garbage collector's passes; fewer
passes where work comes in batches.

A long-running process makes most of its objects once: modules, the app with its routes
and schemas, SQLAlchemy's tables and compiled statements. CPython's full collection
(generation 2) walks every one of them each time it runs: in ``serve`` ~130 ms on the
benchmark machine, about once per 75 requests for per-device statistics, which made it
their p99 (docs/benchmarks.md). ``gc.freeze()`` moves what exists at that moment to a
permanent generation that collections skip; objects made later are collected as before.
Anything that exists then and is dropped later in a cycle is not freed until the thaw: a
one-off amount, not per request.

The sync and the SQLite writer work in batches: 5,000 rows hold ~50,000 objects until they
are written, and at CPython's default (a young collection every 700 more allocations than
frees) each batch paid dozens of passes that only moved them to older generations: ~2 s
of each process's CPU per million rows copied. They start a young collection after
:data:`BATCH_YOUNG_THRESHOLD` instead. ``serve``'s own processes keep the default: a young
pass over that many objects would be a pause in some request's answer. (Its writer process
takes the batch setting too: a report's unit frees what it allocates, so the pass is rare.)
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

BATCH_YOUNG_THRESHOLD = 100_000


def freeze_start_up(young_threshold: int | None = None) -> None:
    """Exempt every object that exists now from later collections (no collection first:
    that would cost a full pass each time a test starts an app); with ``young_threshold``,
    collect the youngest generation after that many more allocations than frees."""
    if young_threshold is not None:
        gc.set_threshold(young_threshold, *gc.get_threshold()[1:])
    gc.freeze()


@contextmanager
def frozen_start_up(young_threshold: int | None = None) -> Iterator[None]:
    """:func:`freeze_start_up` for the body's duration, then as before: an app started and
    stopped many times in one process (the tests) must not keep every stopped one."""
    thresholds = gc.get_threshold()
    freeze_start_up(young_threshold)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
