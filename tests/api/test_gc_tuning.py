"""``api.common.gc_tuning.settle_heap`` freezes start-up objects and sets the thresholds
(run in a child process: freezing is for the life of a process)."""

from __future__ import annotations

import json
import subprocess
import sys

from api.common.gc_tuning import THRESHOLD

CHILD = """
import gc, json
from api.common.gc_tuning import settle_heap
import api.schema
before = gc.get_freeze_count()
frozen = settle_heap()
print(json.dumps({"before": before, "frozen": frozen, "threshold": gc.get_threshold()}))
"""


def test_settle_heap_freezes_what_is_alive_and_sets_the_thresholds() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    got = json.loads(out.strip().splitlines()[-1])
    assert got["before"] == 0
    assert got["frozen"] > 10_000  # the schema and its modules, at least
    assert tuple(got["threshold"]) == THRESHOLD
