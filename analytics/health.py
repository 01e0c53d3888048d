"""Health index from window features and the sensors' failure limits: 1 as new, 0 failed.

Contract: ``health_baseline(features, limits) -> HealthBaseline`` from a healthy period;
``health_trajectory(features, baseline) -> np.ndarray`` per sensor and window, and
``asset_trajectory(...)`` their minimum; ``health_index(features, baseline) ->
HealthIndex`` for the last windows. Pure.

Per sensor, with its level ``x`` (the window feature ``baseline.feature``, the mean by
default), its normal level ``n`` (the median of that feature over the healthy windows)
and its failure limits::

    towards fail_high:  h = (fail_high - x) / (fail_high - n)
    towards fail_low:   h = (x - fail_low) / (n - fail_low)

the smaller of the two where both are set, clipped to [0, 1]: 1 at (or better than) the
normal level, 0 at a failure limit. A sensor without failure limits, or whose normal
level already sits at or beyond one, has no index (None, with the reason). The asset's
index is the minimum over the sensors with one (``combine="min"``: the asset is as
healthy as its worst sensor), or their weighted mean (``combine="weighted"``).
``health_index`` takes the median level over the last ``last`` windows, so one noisy
window does not move it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from analytics.features import WindowFeatures
from graph.errors import ValidationError

__all__ = [
    "HealthBaseline",
    "HealthIndex",
    "SensorHealth",
    "SensorLimits",
    "asset_trajectory",
    "health_baseline",
    "health_index",
    "health_trajectory",
]


@dataclass(frozen=True, slots=True)
class SensorLimits:
    """A sensor's failure limits (None where it has none)."""

    sensor_id: str
    fail_low: float | None = None
    fail_high: float | None = None

    def __post_init__(self) -> None:
        lo, hi = self.fail_low, self.fail_high
        for v in (lo, hi):
            if v is not None and not math.isfinite(v):
                raise ValidationError(f"sensor {self.sensor_id!r}: failure limits must be finite")
        if lo is not None and hi is not None and lo >= hi:
            raise ValidationError(f"sensor {self.sensor_id!r}: fail_low must be below fail_high")


@dataclass(frozen=True, slots=True)
class HealthBaseline:
    """Normal levels per sensor from a healthy period, with the limits they go with."""

    limits: tuple[SensorLimits, ...]
    normal: tuple[float, ...]
    feature: str
    window_start_us: int
    window_end_us: int


@dataclass(frozen=True, slots=True)
class SensorHealth:
    sensor_id: str
    index: float | None
    level: float | None
    normal: float
    reason: str | None = None  # why there is no index


@dataclass(frozen=True, slots=True)
class HealthIndex:
    """The asset's index (None when no sensor has one) and its sensors'."""

    index: float | None
    sensors: tuple[SensorHealth, ...]
    combine: str
    limiting_sensor: str | None
    window_start_us: int
    window_end_us: int


def health_baseline(
    features: WindowFeatures, limits: Sequence[SensorLimits], *, feature: str = "mean"
) -> HealthBaseline:
    """Normal levels: the median of ``feature`` per sensor over the given (healthy) windows."""
    if len(limits) != features.n_sensors:
        raise ValidationError(f"{len(limits)} limits for {features.n_sensors} sensors")
    level = features.feature(feature)
    normal = []
    for k, lim in enumerate(limits):
        col = level[k][np.isfinite(level[k])]
        if not len(col):
            raise ValidationError(f"sensor {lim.sensor_id!r} has no complete healthy window")
        normal.append(float(np.median(col)))
    return HealthBaseline(
        tuple(limits), tuple(normal), feature,
        int(features.starts_us[0]) if features.n_windows else 0,
        int(features.ends_us[-1]) if features.n_windows else 0,
    )  # fmt: skip


def _indices(level: np.ndarray, baseline: HealthBaseline) -> tuple[np.ndarray, list[str | None]]:
    """``(n_sensors, ...)`` indices of ``level`` (NaN where none), and why there is none."""
    out = np.full(level.shape, np.nan)
    reasons: list[str | None] = []
    for k, (lim, n) in enumerate(zip(baseline.limits, baseline.normal, strict=True)):
        sides = []
        if lim.fail_high is not None and lim.fail_high > n:
            sides.append((lim.fail_high - level[k]) / (lim.fail_high - n))
        if lim.fail_low is not None and lim.fail_low < n:
            sides.append((level[k] - lim.fail_low) / (n - lim.fail_low))
        if lim.fail_high is None and lim.fail_low is None:
            reasons.append("no_failure_limit")
        elif not sides:
            reasons.append("normal_level_beyond_failure_limit")
        else:
            reasons.append(None)
            out[k] = np.clip(np.minimum.reduce(sides), 0.0, 1.0)
    return out, reasons


def health_trajectory(features: WindowFeatures, baseline: HealthBaseline) -> np.ndarray:
    """``(n_sensors, n_windows)`` index per sensor and window (NaN: none, or no data)."""
    if len(baseline.limits) != features.n_sensors:
        raise ValidationError(f"baseline of {len(baseline.limits)} sensors, features of "
                              f"{features.n_sensors}")  # fmt: skip
    return _indices(features.feature(baseline.feature), baseline)[0]


def _combine(h: np.ndarray, combine: str, weights: Sequence[float] | None) -> np.ndarray:
    if combine == "min":
        with np.errstate(all="ignore"):
            return np.where(np.isfinite(h).any(axis=0), np.nanmin(np.where(
                np.isfinite(h), h, np.inf), axis=0), np.nan)  # fmt: skip
    if combine == "weighted":
        w = np.ones(h.shape[0]) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (h.shape[0],) or np.any(w < 0):
            raise ValidationError("weights must be one non-negative number per sensor")
        ok = np.isfinite(h)
        ww = np.where(ok, w[:, None], 0.0)
        with np.errstate(all="ignore"):
            return np.where(ww.sum(axis=0) > 0, (np.where(ok, h, 0.0) * ww).sum(axis=0)
                            / ww.sum(axis=0), np.nan)  # fmt: skip
    raise ValidationError(f"combine must be 'min' or 'weighted', got {combine!r}")


def asset_trajectory(
    features: WindowFeatures,
    baseline: HealthBaseline,
    *,
    combine: str = "min",
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """``(n_windows,)`` asset index per window (NaN where no sensor has one)."""
    return _combine(health_trajectory(features, baseline), combine, weights)


def health_index(
    features: WindowFeatures,
    baseline: HealthBaseline,
    *,
    last: int = 5,
    combine: str = "min",
    weights: Mapping[str, float] | None = None,
) -> HealthIndex:
    """The index now: each sensor's median level over its last ``last`` complete windows."""
    if last < 1:
        raise ValidationError(f"last must be at least 1, got {last}")
    level = features.feature(baseline.feature)
    now = np.full(features.n_sensors, np.nan)
    used = np.zeros(features.n_windows, dtype=bool)
    for k in range(features.n_sensors):
        idx = np.flatnonzero(np.isfinite(level[k]))[-last:]
        if len(idx):
            now[k] = float(np.median(level[k, idx]))
            used[idx] = True
    h, reasons = _indices(now, baseline)
    ids = [lim.sensor_id for lim in baseline.limits]
    w = None if weights is None else [float(weights.get(s, 0.0)) for s in ids]
    asset = _combine(h[:, None], combine, w)[0]
    sensors = tuple(
        SensorHealth(
            sid, None if not math.isfinite(h[k]) else float(h[k]),
            None if not math.isfinite(now[k]) else float(now[k]), baseline.normal[k],
            reasons[k] or (None if math.isfinite(now[k]) else "no_data"),
        )  # fmt: skip
        for k, sid in enumerate(ids)
    )
    finite = [s for s in sensors if s.index is not None]
    limiting = min(finite, key=lambda s: s.index or 0.0).sensor_id if finite else None
    win = np.flatnonzero(used)
    return HealthIndex(
        index=None if not math.isfinite(asset) else float(asset),
        sensors=sensors, combine=combine, limiting_sensor=limiting,
        window_start_us=int(features.starts_us[win[0]]) if len(win) else 0,
        window_end_us=int(features.ends_us[win[-1]]) if len(win) else 0,
    )  # fmt: skip
