"""Garbage-collector settings of a serving process: fewer, shorter pauses under load.

``settle_heap()`` runs once start-up is done (the schema, the services, an imported
plant): it collects, then ``gc.freeze()``s every object alive, so later full collections
no longer walk the hundreds of thousands of start-up objects that live as long as the
process; and it raises the young-generation threshold (``THRESHOLD``), so a busy
request loop allocates more between collections and promotes fewer short-lived
objects into the old generation. Only the serving entry points call it (``twinql
serve``/``demo`` and the benchmarks), never ``create_app``: tests build many apps in one
process and a frozen object is never freed.
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLD", "settle_heap"]

THRESHOLD = (20_000, 20, 20)  # CPython's default is (2000, 10, 10)


def settle_heap(threshold: tuple[int, int, int] = THRESHOLD) -> int:
    """Collect, freeze what is alive, set the thresholds; the number of frozen objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*threshold)
    return gc.get_freeze_count()
