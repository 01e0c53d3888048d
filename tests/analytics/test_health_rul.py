"""Health index and RUL on known answers: constant signal (no trend, unknown RUL), clean
and noisy linear degradations (the right RUL inside the interval), fleet matching,
calibration and the combined result."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.assessment import HealthConfig, LifeData, life_health
from analytics.features import series_features
from analytics.health import (
    SensorLimits,
    asset_trajectory,
    health_baseline,
    health_index,
    health_trajectory,
)
from analytics.rul import RulCalibration, calibrate, calibrate_on_fleet, combine_rul, estimate_rul
from analytics.rul_fleet import FleetHistory, fleet_rul
from analytics.rul_trend import trend_rul
from analytics.rul_types import RulEstimate, unknown
from graph.errors import ValidationError

S = 1_000_000
LIMITS = (SensorLimits("vib", fail_high=7.0), SensorLimits("p", fail_low=3.0),
          SensorLimits("flow"))  # fmt: skip


def features(vib: np.ndarray, p: np.ndarray, hours: float = 100.0):  # type: ignore[no-untyped-def]
    ts = (np.linspace(0, hours, len(vib), endpoint=False) * 3.6e9).astype(np.int64)
    return series_features([(ts, vib), (ts, p), (ts, np.full(len(ts), 5.0))],
                           window_s=3600, step_s=3600, end_us=int(hours * 3.6e9))  # fmt: skip


def test_health_index_goes_from_one_at_normal_to_zero_at_a_limit() -> None:
    n = 6000
    vib = np.linspace(1.0, 7.0, n)  # reaches fail_high at the end
    p = np.full(n, 5.0)
    f = features(vib, p)
    base = health_baseline(f.select(np.arange(3)), LIMITS)
    assert base.normal[0] == pytest.approx(vib[:180].mean(), rel=0.02)
    h = health_trajectory(f, base)
    assert np.isnan(h[2]).all()  # no failure limit, no index
    assert h[0, 0] == pytest.approx(1.0, abs=0.02) and h[0, -1] == pytest.approx(0.0, abs=0.02)
    assert np.all(np.diff(h[0]) <= 1e-12)
    np.testing.assert_allclose(h[1], 1.0)
    np.testing.assert_allclose(asset_trajectory(f, base), h[0])
    idx = health_index(f, base, last=1)
    assert idx.index == pytest.approx(h[0, -1]) and idx.limiting_sensor == "vib"
    by_id = {s.sensor_id: s for s in idx.sensors}
    assert by_id["flow"].index is None and by_id["flow"].reason == "no_failure_limit"
    weighted = health_index(f, base, last=1, combine="weighted", weights={"vib": 1, "p": 1})
    assert weighted.index == pytest.approx((h[0, -1] + 1.0) / 2)


def test_health_toward_a_low_limit() -> None:
    p = np.linspace(5.0, 3.0, 6000)
    f = features(np.full(6000, 1.0), p)
    base = health_baseline(f.select(np.arange(2)), LIMITS)
    expected = (p.reshape(100, 60).mean(axis=1) - 3.0) / (base.normal[1] - 3.0)
    np.testing.assert_allclose(health_trajectory(f, base)[1], np.clip(expected, 0, 1))


def test_limits_are_validated() -> None:
    with pytest.raises(ValidationError):
        SensorLimits("x", fail_low=5, fail_high=1)
    with pytest.raises(ValidationError):
        SensorLimits("x", fail_high=float("nan"))


def test_constant_signal_has_unknown_rul() -> None:
    t = np.arange(200.0)
    h = np.ones(200)
    r = trend_rul(t, h)
    assert not r.known and r.reason == "not_degrading"
    assert estimate_rul(t, h, library=[]).reason == "not_degrading"
    noisy = 1.0 - np.abs(np.random.default_rng(0).normal(0, 0.01, 200))
    assert trend_rul(t, noisy).reason in {"no_trend", "not_degrading"}
    assert trend_rul(t[:3], h[:3]).reason == "too_little_history"
    assert fleet_rul([], t, h).reason == "no_fleet_history"


def test_clean_linear_degradation_gets_the_exact_rul() -> None:
    t = np.arange(0.0, 500.0, 5.0)
    h = 1.0 - t / 1000.0  # reaches 0 at 1000 h
    r = trend_rul(t, h)
    assert r.known and r.hours == pytest.approx(1000.0 - t[-1])
    assert r.low is not None and r.high is not None and r.low <= r.hours <= r.high


@settings(max_examples=30, deadline=None)
@given(life=st.floats(300, 5000), noise=st.floats(0.001, 0.03), seed=st.integers(0, 2**16),
       frac=st.floats(0.4, 0.9))  # fmt: skip
def test_noisy_linear_degradation_gets_an_interval_around_its_estimate(
        life: float, noise: float, seed: int, frac: float) -> None:  # fmt: skip
    rng = np.random.default_rng(seed)
    t = np.linspace(0, frac * life, 200)
    h = 1.0 - t / life + rng.normal(0, noise, len(t))
    r = trend_rul(t, h, recent=1.0, confidence=0.999)
    assert r.known and r.low is not None and r.high is not None
    assert 0 <= r.low <= r.hours <= r.high


@pytest.mark.parametrize("confidence", [0.8, 0.95])
@pytest.mark.parametrize(("life", "noise", "frac"), [(300, 0.016, 0.5), (3000, 0.03, 0.4)])
def test_trend_interval_covers_the_true_rul_at_its_stated_rate(
        confidence: float, life: float, noise: float, frac: float) -> None:  # fmt: skip
    """A 1 - alpha interval misses the truth in about alpha of the histories, not never:
    over 2,000 fixed seeds the coverage is within 4 binomial standard errors of the
    stated confidence (a single-history check of a 99.9 % interval fails 1 time in 1,000)."""
    n = 2000
    t = np.linspace(0, frac * life, 200)
    hits = 0
    for seed in range(n):
        h = 1.0 - t / life + np.random.default_rng(seed).normal(0, noise, len(t))
        r = trend_rul(t, h, recent=1.0, confidence=confidence)
        assert r.known and r.low is not None and r.high is not None
        hits += r.low <= life - t[-1] <= r.high
    se = math.sqrt(confidence * (1 - confidence) / n)
    assert abs(hits / n - confidence) <= 4 * se


def _life(life: float, onset: float, rng: np.random.Generator) -> FleetHistory:
    t = np.arange(0.0, life, 6.0)
    h = np.clip(1.0 - np.clip(t - onset, 0, None) / (life - onset), 0, 1)
    return FleetHistory(f"a{life:.0f}", t, h + rng.normal(0, 0.01, len(t)), life)


def test_fleet_matching_recovers_the_rul_of_a_similar_life() -> None:
    rng = np.random.default_rng(3)
    lib = [_life(L, 0.3 * L, rng) for L in (800, 900, 1000, 1100, 1200, 1300)]
    probe = _life(1000, 300, rng)
    t, h = probe.truncated(700)
    r = fleet_rul(lib, t, h, age_h=700)
    assert r.known and r.low is not None and r.high is not None
    assert r.low <= 300 <= r.high and r.hours == pytest.approx(300, rel=0.2)


def test_combined_and_calibrated_on_a_fleet() -> None:
    rng = np.random.default_rng(4)
    lib = [_life(L, 0.3 * L, rng) for L in np.linspace(700, 1400, 10)]
    cal = calibrate_on_fleet(lib, confidence=0.8)
    assert cal.n == 10 * 7 and 0 <= cal.trend_weight <= 1
    assert cal.q_both is not None and cal.failure_level == pytest.approx(0.0, abs=0.05)
    probe = _life(1050, 315, rng)
    t, h = probe.truncated(840)
    r = estimate_rul(t, h, lib, cal, age_h=840)
    assert r.known and r.method == "trend+fleet" and r.confidence == 0.8
    assert r.low is not None and r.high is not None and r.low <= 210 <= r.high
    assert r.hours == pytest.approx(210, rel=0.2)


def test_conformal_interval_bounds_are_the_right_order_statistics() -> None:
    true = np.full(19, 100.0)
    est = 110.0 * np.exp(-np.arange(-9, 10) / 10) - 10.0
    # signed log((true + 10) / (est + 10)) = -0.9 .. 0.9; 80 %: tails of 10 %, n + 1 = 20:
    # the floor(2)nd smallest (-0.8) and the ceil(18)th smallest (0.8)
    cal = calibrate(np.full(19, np.nan), est, true, confidence=0.8, offset_h=10.0)
    assert cal.q_fleet == pytest.approx((-0.8, 0.8)) and cal.q_trend is None
    assert cal.q_both is None
    fleet = RulEstimate(100.0, 90.0, 110.0, 0.8, "fleet")
    r = combine_rul(unknown("no_trend", "trend"), fleet, cal)
    assert r.low == pytest.approx(110 * np.exp(-0.8) - 10)
    assert r.high == pytest.approx(110 * np.exp(0.8) - 10)


def test_a_one_sided_error_gets_its_room_on_that_side() -> None:
    """Estimates that are too long (true below estimate: negative errors) widen the
    interval downwards only; the upper bound stays at the estimate."""
    true = np.full(19, 100.0)
    est = 110.0 * np.exp(np.arange(0, 19) / 20) - 10.0  # errors 0 .. -0.9
    cal = calibrate(np.full(19, np.nan), est, true, confidence=0.8, offset_h=10.0)
    assert cal.q_fleet is not None
    lo, hi = cal.q_fleet
    assert lo == pytest.approx(-0.85) and hi == pytest.approx(0.0)
    r = combine_rul(unknown("no_trend", "trend"), RulEstimate(100.0, 90, 110, 0.8, "fleet"), cal)
    assert r.high == pytest.approx(100.0) and r.low == pytest.approx(110 * np.exp(-0.85) - 10)


def test_combination_without_calibration_says_so_and_unknowns_keep_a_reason() -> None:
    a = RulEstimate(100.0, 80.0, 120.0, 0.8, "trend")
    b = RulEstimate(200.0, 150.0, 260.0, 0.8, "fleet")
    r = combine_rul(a, b, None)
    assert r.method.endswith("(uncalibrated)") and r.low == 80.0 and r.high == 260.0
    assert 100 < (r.hours or 0) < 200
    both = combine_rul(unknown("no_failure_limit", "trend"), unknown("no_fleet_history", "fleet"))
    assert not both.known and both.reason == "no_failure_limit"
    cal = RulCalibration(0.8, 1.0, (-0.1, 0.1), (-0.2, 0.2), (-0.3, 0.3), 10, 10.0)
    assert combine_rul(a, b, cal).hours == pytest.approx(100.0)


def test_rul_estimate_checks_itself() -> None:
    with pytest.raises(ValidationError):
        RulEstimate(100.0, 120.0, 130.0, 0.8, "x")
    with pytest.raises(ValidationError):
        RulEstimate(None, None, None, 0.8, "x", reason="because")


def test_normal_levels_come_from_the_first_baseline_period_only() -> None:
    """A vibration ramping up from its first reading (2 mm/s + 0.01 mm/s per hour, one
    reading every 10 min), the life starting 2 h after a bucket edge. Windows (24 h every
    6 h) are epoch-aligned, so the whole ones within the first 4 days end 22, 28, ..., 94 h
    after the start (the first holding only 22 h of data): centres 11, 16, 22, ..., 82 h,
    median 46 h, normal level 2.46 mm/s. Windows that merely start within the 4 days
    would reach a day further into the wear (median centre 58 h: 2.58 mm/s)."""
    cfg = HealthConfig()
    step = cfg.step_us
    start = 1_000 * step + 2 * 3_600_000_000
    t = start + np.arange(20 * 144) * 600_000_000  # 20 days
    level = 2.0 + 0.01 * (t - start) / 3.6e9
    keys, inverse = np.unique(t // step * step, return_inverse=True)
    counts = np.bincount(inverse)
    means = np.bincount(inverse, level) / counts
    end = start + 19 * 86_400_000_000
    data = LifeData.from_buckets([SensorLimits("vib", fail_high=10.0)], start, end, step,
                                 [(keys, means, counts)])  # fmt: skip
    life = life_health(data, cfg, end)
    assert life.baseline is not None
    # the samples sit on 10 min marks: a window's mean is 5 min before its centre
    assert life.baseline.normal[0] == pytest.approx(2.0 + 0.01 * (46 - 1 / 12), abs=1e-6)
    assert (life.baseline.window_end_us - start) / 3.6e9 == pytest.approx(94.0)
    assert life.health[0] == pytest.approx(1.0) and life.health[-1] < 0.8


def test_compiled_fleet_misfit_is_numpys() -> None:
    """The compiled alignment misfit equals the numpy one (np.interp: 1 before a past
    life's first point, its last value after its last), on uneven times, two indicators,
    alignments reaching before and beyond the life."""
    from analytics import rul_fleet

    kernel = rul_fleet._compiled()
    assert kernel is not None  # numba is a dependency
    rng = np.random.default_rng(4)
    t = np.cumsum(rng.uniform(2.0, 9.0, 60))
    life = FleetHistory("x", t, np.column_stack([np.linspace(1, 0, 60), rng.random(60)]),
                        float(t[-1]) + 3.0)  # fmt: skip
    tau = np.linspace(-20.0, t[-1] + 40.0, 150)
    rates = np.array([0.5, 1.0, 1.7])
    dt = np.sort(rng.uniform(0.0, 120.0, 25))
    hq = rng.random((25, 2))
    want = rul_fleet._misfit(life, tau[None, :, None], rates[:, None, None], dt, hq)
    got = np.zeros((3, 150))
    kernel(life.times_h, np.ascontiguousarray(life.health), tau, rates, dt, hq, got)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
