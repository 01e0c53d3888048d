"""Pure helpers of the stores: grid fills (the QuestDB adapter's fills) and alignment."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.store import Series, align, bucket_grid, fill_grid

GRID = bucket_grid(0, 360, 60)


@pytest.mark.parametrize(
    ("fill", "expected"),
    [
        ("null", [np.nan, 2.0, np.nan, np.nan, 8.0, np.nan]),
        ("previous", [np.nan, 2.0, 2.0, 2.0, 8.0, 8.0]),
        ("linear", [np.nan, 2.0, 4.0, 6.0, 8.0, np.nan]),
    ],
)
def test_fill_grid_matches_the_sql_fills(fill: str, expected: list[float]) -> None:
    series = Series("f1", np.array([60, 240]), np.array([2.0, 8.0]))
    got = fill_grid(series, GRID, fill)
    assert got.times.tolist() == GRID.tolist()
    np.testing.assert_allclose(got.values, expected)


def test_fill_grid_none_and_empty() -> None:
    empty = Series("e", np.empty(0, np.int64), np.empty(0))
    assert fill_grid(empty, GRID, "none") is empty
    assert np.isnan(fill_grid(empty, GRID, "linear").values).all()
    assert np.isnan(fill_grid(empty, GRID, "previous").values).all()


def test_grid_is_aligned_to_bucket_multiples_and_align_ignores_off_grid() -> None:
    assert bucket_grid(90, 300, 60).tolist() == [60, 120, 180, 240]
    s = {"a": Series("a", np.array([60, 61, 180]), np.array([1.0, 9.0, 3.0]))}
    np.testing.assert_allclose(
        align(s, ["a", "b"], GRID)[:, :4], [[np.nan, 1.0, np.nan, 3.0], [np.nan] * 4]
    )
