"""Python's cycle collector during an import.

An import allocates millions of short-lived objects (parsed posts, rows, pickled slices),
and the collector's default of a young collection every 700 allocations, each promoting
survivors towards full collections that walk every object alive, cost ~10 % of the CPU of
both import processes (perf). Almost nothing an import allocates forms cycles, so it runs
with far fewer collections, and what was alive before it began (modules, SQLAlchemy's
mappers) is set aside from them altogether.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations between young collections: a slice of 2,000 parsed posts is some 40,000
# objects, so a slice in flight is not collected again and again.
YOUNG_THRESHOLD = 50_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cycles rarely inside the block; the previous settings come back after it."""
    thresholds = gc.get_threshold()
    # A process that froze objects itself (a server after start-up, say) keeps them frozen.
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen_before:
            gc.unfreeze()
