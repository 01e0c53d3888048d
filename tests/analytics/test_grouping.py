"""group_readings: the readings that count, grouped by sensor and in time order."""

from __future__ import annotations

import math

import numpy as np

from analytics.codes import IdCoder
from analytics.grouping import group_readings
from ingest.store import ReadingBatch

KNOWN = {"a": object(), "b": object()}  # only membership counts here


def batch(rows: list[tuple[int, str, float]]) -> ReadingBatch:
    n = len(rows)
    return ReadingBatch.from_columns(
        [t for t, _, _ in rows],
        [s for _, s, _ in rows],
        [f"asset-{i}" for i in range(n)],
        [v for _, _, v in rows],
        ["good"] * n,
    )


def test_nothing_counts_in_an_empty_or_all_unknown_batch() -> None:
    assert group_readings(ReadingBatch.empty(), KNOWN, IdCoder(), {}) is None
    assert group_readings(batch([(1, "x", 1.0)]), KNOWN, IdCoder(), {}) is None
    nan_only = batch([(1, "a", math.nan), (2, "b", math.nan)])
    assert group_readings(nan_only, KNOWN, IdCoder(), {}) is None


def test_readings_are_filtered_grouped_and_sorted_by_time_within_a_sensor() -> None:
    b = batch(
        [
            (5, "b", 1.0),
            (3, "a", 2.0),
            (9, "x", 3.0),  # unknown sensor
            (1, "b", 4.0),
            (4, "a", math.nan),  # missing value
            (2, "a", 5.0),  # not newer than the last reading seen for a
            (7, "a", 6.0),
        ]
    )
    g = group_readings(b, KNOWN, IdCoder(), {"a": 2})
    assert g is not None
    assert g.sensors == ["b", "a"]  # first-seen order
    assert g.starts.tolist() == [0, 2] and g.ends.tolist() == [2, 4]
    assert g.ts.tolist() == [1, 5, 3, 7]
    assert g.value.tolist() == [4.0, 1.0, 2.0, 6.0]
    assert [g.asset_at(i) for i in range(4)] == ["asset-3", "asset-0", "asset-1", "asset-6"]


def test_a_batch_already_grouped_and_in_order_is_taken_as_it_is() -> None:
    coder = IdCoder()
    b = batch([(1, "a", 1.0), (2, "a", 2.0), (1, "b", 3.0)])
    g = group_readings(b, KNOWN, coder, {})
    assert g is not None and g.src is None  # no filtering, no sorting: no index kept
    assert np.shares_memory(g.ts, b.ts)
