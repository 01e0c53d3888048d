"""Garbage-collector settings of a serving process: fewer, shorter pauses under load.

``settle_heap()`` runs once start-up is done (the schema, the services, an imported
plant): it collects, then ``gc.freeze()``s every object alive, so later full collections
no longer walk the hundreds of thousands of start-up objects that live as long as the
process. The thresholds stay CPython's (``THRESHOLD``): raising the young generation's
to 20,000 (gen-1 x20) removed the gen-2 collections but made each young collection walk
so much more that the pause p99 grew from 18-37 ms to 78-586 ms in bench/bench_graphql.py. Only the serving entry points call it (``twinql
serve``/``demo`` and the benchmarks), never ``create_app``: tests build many apps in one
process and a frozen object is never freed.
"""

from __future__ import annotations

import gc

__all__ = ["THRESHOLD", "settle_heap"]

THRESHOLD = (2_000, 10, 10)  # CPython's default


def settle_heap(threshold: tuple[int, int, int] = THRESHOLD) -> int:
    """Collect, freeze what is alive, set the thresholds; the number of frozen objects."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*threshold)
    return gc.get_freeze_count()
