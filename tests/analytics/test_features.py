"""Window features against a direct numpy computation, on small known cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.features import FEATURES, series_features, window_features
from graph.errors import ValidationError

S = 1_000_000  # µs per second


def direct(ts_us: np.ndarray, x: np.ndarray) -> list[float]:
    """The six features of one window, computed the obvious way."""
    d = x - x.mean()
    m2 = float(np.mean(d**2))
    kurt = float(np.mean(d**4) / m2**2 - 3) if m2 > 0 else 0.0
    t = ts_us / 3.6e9
    slope = float(np.polyfit(t, x, 1)[0]) if np.ptp(t) > 0 else 0.0
    return [x.mean(), np.sqrt(m2), np.sqrt(np.mean(x**2)), np.ptp(x), kurt, slope]


def test_two_sensors_match_direct_computation() -> None:
    rng = np.random.default_rng(1)
    ts = np.arange(0, 100) * 10 * S  # 10 s apart, 1000 s
    a = 3.0 + rng.normal(size=100)
    b = np.linspace(0, 50, 100) + rng.normal(size=100) ** 3
    f = series_features([(ts, a), (ts, b)], window_s=200, step_s=100)
    assert f.n_sensors == 2 and f.n_windows == 8 and f.rows == 16  # whole windows only
    for s, x in enumerate((a, b)):
        for k, start in enumerate(f.starts_us):
            sel = (ts >= start) & (ts < start + 200 * S)
            assert f.counts[s, k] == sel.sum() == 20
            np.testing.assert_allclose(f.values[s, k], direct(ts[sel], x[sel]), rtol=1e-9, atol=1e-9)


def test_unsorted_interleaved_readings_give_the_same_features() -> None:
    rng = np.random.default_rng(2)
    ts = np.tile(np.arange(60) * 5 * S, 3)
    code = np.repeat(np.arange(3), 60)
    x = rng.normal(size=180) + code * 10
    order = rng.permutation(180)
    kw = {"n_sensors": 3, "window_s": 60, "step_s": 30}
    f1 = window_features(ts, x, code, **kw)
    f2 = window_features(ts[order], x[order], code[order], **kw)
    np.testing.assert_allclose(f1.values, f2.values, rtol=1e-12)


def test_constant_window_has_zero_spread_kurtosis_and_slope() -> None:
    ts = np.arange(30) * S
    f = series_features([(ts, np.full(30, 7.5))], window_s=10, step_s=10)
    assert np.all(f.feature("std") == 0) and np.all(f.feature("kurtosis") == 0)
    assert np.all(f.feature("slope") == 0) and np.all(f.feature("p2p") == 0)
    np.testing.assert_allclose(f.feature("rms"), 7.5)


def test_sparse_windows_are_nan_and_nan_values_are_skipped() -> None:
    ts = np.array([0, 1, 2, 3, 50, 51], dtype=np.int64) * S
    x = np.array([1.0, np.nan, 3.0, 5.0, 1.0, 2.0])
    f = series_features([(ts, x)], window_s=10, step_s=10, min_samples=3, end_us=60 * S)
    assert f.counts[0].tolist() == [3, 0, 0, 0, 0, 2]
    np.testing.assert_allclose(f.values[0, 0, 0], 3.0)
    assert np.isnan(f.values[0, 1:]).all()


def test_slope_is_in_units_per_hour() -> None:
    ts = np.arange(0, 3600, 60, dtype=np.int64) * S
    f = series_features([(ts, 2.0 + 0.5 * ts / 3.6e9)], window_s=3600, step_s=3600,
                        end_us=3600 * S)  # fmt: skip
    assert f.feature("slope")[0, 0] == pytest.approx(0.5)
    assert f.matrix().shape == (1, len(FEATURES))


def test_bad_input_is_refused_with_a_code() -> None:
    with pytest.raises(ValidationError):
        window_features(np.zeros(2, np.int64), np.zeros(3), np.zeros(2), n_sensors=1,
                        window_s=1, step_s=1)  # fmt: skip
    with pytest.raises(ValidationError):
        window_features(np.zeros(1, np.int64), np.zeros(1), np.array([2]), n_sensors=1,
                        window_s=1, step_s=1)  # fmt: skip
    with pytest.raises(ValidationError):
        series_features([(np.zeros(1, np.int64), np.zeros(1))], window_s=0, step_s=1)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(3, 80),
    window=st.integers(3, 40),
    step=st.integers(1, 40),
    seed=st.integers(0, 2**16),
    offset=st.floats(-1e4, 1e4),
)
def test_any_grid_matches_direct_computation(n: int, window: int, step: int, seed: int,
                                             offset: float) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 100 * S, n))
    x = offset + rng.normal(size=n) * rng.uniform(0.01, 100)
    f = series_features([(ts, x)], window_s=window, step_s=step, min_samples=2)
    for k, start in enumerate(f.starts_us):
        sel = (ts >= start) & (ts < start + window * S)
        assert f.counts[0, k] == sel.sum()
        if sel.sum() >= 2:
            exp = direct(ts[sel], x[sel])
            got = f.values[0, k]
            np.testing.assert_allclose(got[:4], exp[:4], rtol=1e-7, atol=1e-9 * (1 + abs(offset)))
            if exp[1] > 1e-6 * (1 + abs(offset)):
                np.testing.assert_allclose(got[4:], exp[4:], rtol=1e-5, atol=1e-6)
