"""What a process built at start-up, kept out of the garbage collector's full passes.

A long-running process makes most of its objects once: modules, the app with its routes
and schemas, SQLAlchemy's tables and compiled statements. CPython's full collection
(generation 2) walks every one of them each time it runs: in ``serve`` ~130 ms on the
benchmark machine, about once per 75 requests for per-device statistics, which made it
their p99 (docs/benchmarks.md). ``gc.freeze()`` moves what exists at that moment to a
permanent generation that collections skip; objects made later are collected as before.
Anything that exists then and is dropped later in a cycle is not freed until the thaw: a
one-off amount, not per request.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


def freeze_start_up() -> None:
    """Exempt every object that exists now from later collections (no collection first:
    that would cost a full pass each time a test starts an app)."""
    gc.freeze()


@contextmanager
def frozen_start_up() -> Iterator[None]:
    """:func:`freeze_start_up` for the body's duration: an app started and stopped many
    times in one process (the tests) must not keep every stopped one."""
    freeze_start_up()
    try:
        yield
    finally:
        gc.unfreeze()
