"""One asset's health and remaining useful life from its life's data: the pipeline that
``api.services.health`` runs on what it reads from the stores.

Contract: ``LifeData`` holds an asset's readings since its life started (its last failure
or replacement, or its first data) as per-bucket means and counts per sensor, buckets of
``HealthConfig.step_s`` aligned to epoch multiples (what the readings store aggregates);
``life_health(data, config, as_of_us)`` gives the health trajectory and the index now,
``assess_life(..., library, calibration)`` adds the RUL, ``fleet_history(...)`` turns a
recorded life into a ``FleetHistory``. Pure: arrays in, figures out.

**Windows.** A window is ``window_s`` long (a whole number of buckets) and starts every
``step_s``; its level per sensor is the count-weighted mean of its buckets, NaN below
``min_samples`` readings. Only windows that end at or before ``as_of`` are used, so an
assessment as of a past instant sees only the data up to it.

**Health.** Normal levels come from the whole windows that lie within the first
``baseline_s`` of the life's data (from its start, or from the first window holding data
where the read began later; at least that window): the life's healthy start
(``analytics.health``), for the sensors with failure limits. The index per window is the minimum over those sensors
(1 = normal, 0 = at a failure limit); the index now is ``analytics.health.health_index``
over the last ``last`` windows. Times count in hours from the life's start.

**RUL.** ``analytics.rul.estimate_rul`` on the trajectory, with the fleet library (the
recorded lives of assets of the same type) and its calibration where there are at least
two lives; unknown with its reason otherwise (``no_failure_limit`` when no sensor has a
failure limit, ``too_little_history`` before the first complete windows).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.features import FEATURES, WindowFeatures
from analytics.health import (
    HealthBaseline,
    HealthIndex,
    SensorLimits,
    asset_trajectory,
    health_baseline,
    health_index,
)
from analytics.rul import RulCalibration, estimate_rul
from analytics.rul_fleet import FleetHistory
from analytics.rul_types import RulEstimate, unknown
from graph.errors import ValidationError

__all__ = [
    "MAX_BUCKETS",
    "HealthConfig",
    "LifeData",
    "LifeHealth",
    "assess_life",
    "fleet_history",
    "life_health",
    "window_means",
]

_US_PER_H = 3_600_000_000.0
MAX_BUCKETS = 100_000  # per sensor and life read
_MEAN = FEATURES.index("mean")


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """How assessments look at data. Defaults suit sensors sampled every few seconds to
    minutes over lives of weeks to years: a day's window (it evens out shifts and the
    ambient cycle) every 6 h, normal levels from the first 4 days of a life."""

    window_s: float = 86_400.0
    step_s: float = 21_600.0
    baseline_s: float = 4 * 86_400.0
    lookback_s: float = 365 * 86_400.0  # at most this much of a life is read (and at
    # most MAX_BUCKETS steps: ``lookback``)
    confidence: float = 0.8
    last: int = 5  # windows behind the index now and the anomaly score
    min_samples: int = 3
    anomaly_threshold: float = 0.99

    def __post_init__(self) -> None:
        for name in ("window_s", "step_s", "baseline_s", "lookback_s"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v > 0):
                raise ValidationError(f"health {name} must be a positive number of seconds")
        ratio = self.window_s / self.step_s
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise ValidationError("the health window must be a whole number of steps")
        if not 0 < self.confidence < 1 or self.last < 1 or self.min_samples < 1:
            raise ValidationError("confidence in (0, 1), last >= 1, min_samples >= 1")
        if not 0 < self.anomaly_threshold <= 1:
            raise ValidationError("anomaly threshold must lie in (0, 1]")

    @property
    def lookback(self) -> float:
        """Seconds of a life that are read: ``lookback_s``, or fewer to stay within
        ``MAX_BUCKETS`` steps."""
        return min(self.lookback_s, MAX_BUCKETS * self.step_s)

    @property
    def step_us(self) -> int:
        return int(round(self.step_s * 1e6))

    @property
    def buckets_per_window(self) -> int:
        return int(round(self.window_s / self.step_s))


@dataclass(frozen=True, slots=True, eq=False)
class LifeData:
    """``means[s, b]`` and ``counts[s, b]`` of sensor ``s`` over bucket ``b`` starting at
    ``starts_us[b]`` (consecutive, ``step`` apart; NaN / 0 where it had no reading)."""

    limits: tuple[SensorLimits, ...]
    life_start_us: int
    starts_us: np.ndarray
    means: np.ndarray
    counts: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.limits)
        if self.means.shape != (n, len(self.starts_us)) or self.counts.shape != self.means.shape:
            raise ValidationError("life data: one row of means and counts per sensor and bucket")

    @classmethod
    def from_buckets(
        cls,
        limits: Sequence[SensorLimits],
        life_start_us: int,
        end_us: int,
        step_us: int,
        series: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
        *,
        read_from_us: int | None = None,
    ) -> LifeData:
        """From per-sensor ``(bucket starts, means, counts)`` as the store returns them
        (only buckets holding data), onto one grid from where the data was read
        (``read_from_us``: the life's start, or later where the lookback cut it) to
        ``end_us``. Times still count from the life's start."""
        origin = life_start_us if read_from_us is None else max(life_start_us, read_from_us)
        first = origin - origin % step_us
        starts = np.arange(first, end_us, step_us, dtype=np.int64)
        means = np.full((len(limits), len(starts)), np.nan)
        counts = np.zeros((len(limits), len(starts)), dtype=np.int64)
        for s, (ts, mean, count) in enumerate(series):
            k = (np.asarray(ts, dtype=np.int64) - first) // step_us
            ok = (k >= 0) & (k < len(starts)) & np.isfinite(mean)
            means[s, k[ok]] = np.asarray(mean, dtype=float)[ok]
            counts[s, k[ok]] = np.asarray(count, dtype=np.int64)[ok]
        return cls(tuple(limits), life_start_us, starts, means, counts)


def window_means(data: LifeData, config: HealthConfig, end_us: int) -> WindowFeatures:
    """Window levels (the ``mean`` feature; the others NaN) of every whole window ending
    at or before ``end_us``, vectorised: count-weighted rolling sums over the buckets."""
    w = config.buckets_per_window
    step = config.step_us
    n_win = len(data.starts_us) - w + 1
    if n_win > 0:
        n_win = min(n_win, int(np.searchsorted(data.starts_us + w * step, end_us, side="right")))
    n_win = max(n_win, 0)
    c = data.counts.astype(float)
    s = np.where(c > 0, np.nan_to_num(data.means) * c, 0.0)
    zero = np.zeros((len(data.limits), 1))
    cs, cc = np.hstack([zero, np.cumsum(s, axis=1)]), np.hstack([zero, np.cumsum(c, axis=1)])
    tot_s = cs[:, w : w + n_win] - cs[:, :n_win]
    tot_c = cc[:, w : w + n_win] - cc[:, :n_win]
    values = np.full((len(data.limits), n_win, len(FEATURES)), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        values[:, :, _MEAN] = np.where(tot_c >= config.min_samples, tot_s / tot_c, np.nan)
    return WindowFeatures(data.starts_us[:n_win].copy(), w * step, step, values,
                          tot_c.astype(np.int64))  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class LifeHealth:
    """The trajectory (hours since the life's start, asset index per window; complete
    windows only) and the index now; ``reason`` when there is none."""

    times_h: np.ndarray
    health: np.ndarray
    index: HealthIndex | None
    baseline: HealthBaseline | None
    age_h: float
    reason: str | None = None


def life_health(data: LifeData, config: HealthConfig, as_of_us: int) -> LifeHealth:
    age_h = max(as_of_us - data.life_start_us, 0) / _US_PER_H
    empty = np.empty(0)
    keep = [k for k, lim in enumerate(data.limits) if lim.fail_low is not None
            or lim.fail_high is not None]  # fmt: skip
    if not keep:
        return LifeHealth(empty, empty, None, None, age_h, "no_failure_limit")
    f = window_means(data, config, as_of_us)
    f = WindowFeatures(f.starts_us, f.length_us, f.step_us, f.values[keep], f.counts[keep])
    limits = [data.limits[k] for k in keep]
    level = f.feature("mean")
    has = np.flatnonzero(np.isfinite(level).any(axis=0))
    if not len(has):
        return LifeHealth(empty, empty, None, None, age_h, "too_little_history")
    # the healthy start: whole windows within the first ``baseline_s`` of the data (from
    # the life's start, or from the first window with data where the read began later),
    # at least the first window with data. Windows that merely *start* in it would reach
    # ``window_s`` further into the wear: normal levels that differ from life to life
    # with the wear's onset, which narrowed the fleet's calibrated intervals (through
    # the API 62-67 % coverage at a stated 80 %, bench/eval_api.py)
    t0 = int(f.starts_us[has[0]])
    begin = max(t0, data.life_start_us)
    last_end = max(begin + int(config.baseline_s * 1e6), int(f.ends_us[has[0]]))
    healthy = (f.starts_us >= t0) & (f.ends_us <= last_end)
    if not np.isfinite(level[:, healthy]).any(axis=1).all():
        return LifeHealth(empty, empty, None, None, age_h, "too_little_history")
    base = health_baseline(f.select(healthy), limits)
    traj = asset_trajectory(f, base)
    ok = np.isfinite(traj)
    times = (f.ends_us[ok] - data.life_start_us) / _US_PER_H
    now = health_index(f, base, last=config.last)
    return LifeHealth(times, traj[ok], now, base, age_h)


def fleet_history(
    name: str, data: LifeData, config: HealthConfig, failed_at_us: int
) -> FleetHistory | None:
    """A recorded life (its data up to its failure) for the library; None without a
    trajectory of at least 2 windows."""
    life = life_health(data, config, failed_at_us)
    life_h = (failed_at_us - data.life_start_us) / _US_PER_H
    if life.reason is not None or len(life.times_h) < 2 or life_h <= 0:
        return None
    return FleetHistory(name, life.times_h, life.health, life_h)


def assess_life(
    data: LifeData,
    config: HealthConfig,
    as_of_us: int,
    library: Sequence[FleetHistory] = (),
    calibration: RulCalibration | None = None,
) -> tuple[LifeHealth, RulEstimate]:
    """The health now and the RUL (hours from ``as_of``) with its interval."""
    life = life_health(data, config, as_of_us)
    if life.reason is not None:
        return life, unknown(life.reason, "trend+fleet", config.confidence)
    if len(life.times_h) < 3:
        return life, unknown("too_little_history", "trend+fleet", config.confidence)
    rul = estimate_rul(life.times_h, life.health, library, calibration, age_h=life.age_h)
    return life, rul
