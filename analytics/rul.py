"""Remaining useful life: the trend and the fleet estimates combined, with a calibrated
interval.

Contract: ``estimate_rul(times_h, health, library, calibration) -> RulEstimate``;
``calibrate_on_fleet(library) -> RulCalibration`` learns the combination and the
interval from the recorded lives; ``combine_rul(trend, fleet, calibration)`` is the step
in between. Hours count from the asset's life start (its last failure or replacement,
or its commissioning). Pure.

**Combination.** Where both are known the estimate is the weighted geometric mean, in
``log(hours + offset_h)``, of the trend's and the fleet's, with the trend's weight
``trend_weight`` learned on the fleet; where one is known, that one; where neither, the
result is unknown with the trend's reason (``no_failure_limit`` and
``too_little_history`` first), or the fleet's when the trend had none. The trend runs
towards ``failure_level``, the median health index at which the recorded lives ended
(a trip happens on a bad hour, before the window-mean index reaches 0).

**Calibration (split conformal, leave one life out).** Every recorded life is cut at
``cuts`` of its length; at each cut the trend and the fleet (the library without that
life) estimate its RUL, whose truth is known. The trend weight minimises the mean
``|log((true + offset) / (estimate + offset))|`` over a grid. The interval comes from the
signed errors ``e = log((true + offset) / (estimate + offset))``: its bounds ``(lo, hi)``
are their ``floor((n + 1) a / 2)``-th and ``ceil((n + 1) (1 - a / 2))``-th smallest, with
``a = 1 - confidence`` (an equal-tailed split-conformal interval: estimates that err one
way more than the other, as late in life when a trip comes before the health index has
fallen, get the room on that side instead of a symmetric width that misses there). One
``(lo, hi)`` for each case (both known, trend only, fleet only). (Mondrian splits were
measured and dropped: bands of the estimate, of age over the median life and of the
estimated share of life used each lowered the held-out coverage of ``bench_rul``, since
the lives that miss are the overestimated ones, which such bands put with the long
estimates.) The interval is then
``[(est + offset) e^lo - offset, (est + offset) e^hi - offset]``, floored at 0 and
holding the estimate: it holds the true RUL with probability ``confidence`` for a life
exchangeable with the recorded ones (cuts of one life are correlated, and a fleet of a
few dozen lives gives a noisy interval, so that holds loosely; ``bench/bench_rul.py``
measures the coverage on held-out lives, both ways round). Without a calibration the estimators' own
intervals are kept (their union where both are known) and the method says
``uncalibrated``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.rul_fleet import FleetHistory, fleet_rul
from analytics.rul_trend import trend_rul
from analytics.rul_types import RulEstimate, unknown
from graph.errors import ValidationError

__all__ = [
    "CUTS",
    "RulCalibration",
    "RulEstimate",
    "calibrate",
    "calibrate_on_fleet",
    "combine_rul",
    "estimate_rul",
    "failure_level",
]

CUTS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
_WEIGHTS = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))
_REASON_ORDER = ("no_failure_limit", "too_little_history", "not_degrading", "no_trend",
                 "no_fleet_history")  # fmt: skip


Bounds = tuple[float, float]  # signed log errors: the interval's (lower, upper) bounds


@dataclass(frozen=True, slots=True)
class RulCalibration:
    """What ``calibrate`` learned: the trend's weight and the interval bounds ``(lo, hi)``
    (signed, log scale) for each case, None where no calibration point had that case."""

    confidence: float
    trend_weight: float
    q_both: Bounds | None
    q_trend: Bounds | None
    q_fleet: Bounds | None
    n: int
    offset_h: float
    failure_level: float = 0.0


def _q(err: np.ndarray, confidence: float) -> Bounds | None:
    """Equal-tailed split-conformal bounds of signed errors (see the module's docstring):
    beyond the sample's range at either end, its extreme."""
    n = len(err)
    if n == 0:
        return None
    tail = (1 - confidence) / 2
    srt = np.sort(err)
    k_lo = math.floor((n + 1) * tail + 1e-9)  # 1e-9: (1 - 0.8) / 2 * 20 is 1.999...
    k_hi = math.ceil((n + 1) * (1 - tail) - 1e-9)
    lo = float(srt[k_lo - 1]) if k_lo >= 1 else float(srt[0])
    hi = float(srt[k_hi - 1]) if k_hi <= n else float(srt[-1])
    return min(lo, 0.0), max(hi, 0.0)


def _mix(trend_h: np.ndarray, fleet_h: np.ndarray, w: float, c: float) -> np.ndarray:
    return np.exp(w * np.log(trend_h + c) + (1 - w) * np.log(fleet_h + c)) - c


def calibrate(
    trend_h: np.ndarray,
    fleet_h: np.ndarray,
    true_h: np.ndarray,
    *,
    confidence: float = 0.8,
    offset_h: float = 10.0,
    failure_level: float = 0.0,
) -> RulCalibration:
    """From estimates (NaN where unknown) and the true RULs at the same points;
    ``failure_level`` is kept for the trend (the health index at which lives ended)."""
    tr, fl, y = (np.asarray(a, dtype=float) for a in (trend_h, fleet_h, true_h))
    if not (tr.shape == fl.shape == y.shape) or tr.ndim != 1:
        raise ValidationError("trend, fleet and true RUL arrays must be 1-D of one length")
    if not 0 < confidence < 1 or offset_h <= 0:
        raise ValidationError("confidence in (0, 1) and a positive offset_h")
    c = offset_h
    both = np.isfinite(tr) & np.isfinite(fl)
    only_t = np.isfinite(tr) & ~np.isfinite(fl)
    only_f = np.isfinite(fl) & ~np.isfinite(tr)
    ly = np.log(y + c)
    weight = 0.5
    if both.any():
        errs = [np.mean(np.abs(ly[both] - np.log(_mix(tr[both], fl[both], w, c) + c)))
                for w in _WEIGHTS]  # fmt: skip
        weight = float(_WEIGHTS[int(np.argmin(errs))])
    est = np.full(len(y), np.nan)
    est[both] = _mix(tr[both], fl[both], weight, c)
    # the single-method cases take their own errors wherever that method was known
    errors = {
        "both": (ly - np.log(est + c), both),
        "trend": (ly - np.log(tr + c), only_t | both),
        "fleet": (ly - np.log(fl + c), only_f | both),
    }
    q = {k: _q(e[m], confidence) for k, (e, m) in errors.items()}
    return RulCalibration(
        confidence, weight, q["both"], q["trend"], q["fleet"], int(len(y)), c, failure_level
    )


def _widen(est: float, q: Bounds, c: float) -> tuple[float, float]:
    return max((est + c) * math.exp(q[0]) - c, 0.0), (est + c) * math.exp(q[1]) - c


def combine_rul(
    trend: RulEstimate,
    fleet: RulEstimate,
    calibration: RulCalibration | None = None,
) -> RulEstimate:
    if not trend.known and not fleet.known:
        reasons = [r for r in (trend.reason, fleet.reason) if r]
        reason = min(reasons, key=lambda r: _REASON_ORDER.index(r) if r in _REASON_ORDER else 9)
        return unknown(reason, "trend+fleet", trend.confidence)
    cal = calibration
    if trend.known and fleet.known:
        assert trend.hours is not None and fleet.hours is not None
        w = cal.trend_weight if cal else 0.5
        c = cal.offset_h if cal else 10.0
        est = float(_mix(np.array(trend.hours), np.array(fleet.hours), w, c))
        q, method = (cal.q_both if cal else None), "trend+fleet"
        raw = (min(trend.low or 0.0, fleet.low or 0.0, est),
               max(trend.high or 0.0, fleet.high or 0.0, est))  # fmt: skip
    else:
        one = trend if trend.known else fleet
        assert one.hours is not None
        est = one.hours
        q = (cal.q_trend if trend.known else cal.q_fleet) if cal else None
        method = one.method
        raw = (one.low or 0.0, one.high or est)
    if cal is None or q is None:
        return RulEstimate(est, raw[0], raw[1], trend.confidence, f"{method} (uncalibrated)")
    low, high = _widen(est, q, cal.offset_h)
    return RulEstimate(est, min(low, est), max(high, est), cal.confidence, method)


def estimate_rul(
    times_h: np.ndarray,
    health: np.ndarray,
    library: Sequence[FleetHistory],
    calibration: RulCalibration | None = None,
    *,
    age_h: float | None = None,
    trend_options: dict[str, Any] | None = None,
    fleet_options: dict[str, Any] | None = None,
) -> RulEstimate:
    """Both estimates from the health index since the life's start, combined. ``health``
    is ``(n,)`` or ``(n, indicators)`` like the library's lives; the trend follows the
    smallest indicator, towards the calibration's ``failure_level`` (0 without one)."""
    conf = calibration.confidence if calibration else 0.8
    level = calibration.failure_level if calibration else 0.0
    h = np.asarray(health, dtype=float)
    worst = h if h.ndim == 1 else h.min(axis=1)
    tr = trend_rul(times_h, worst, as_of_h=age_h, confidence=conf, threshold=level,
                   **(trend_options or {}))  # fmt: skip
    fl = fleet_rul(library, times_h, health, age_h=age_h, confidence=conf,
                   **(fleet_options or {}))  # fmt: skip
    return combine_rul(tr, fl, calibration)


def calibrate_on_fleet(
    library: Sequence[FleetHistory],
    *,
    cuts: Sequence[float] = CUTS,
    confidence: float = 0.8,
    offset_h: float = 10.0,
    trend_options: dict[str, Any] | None = None,
    fleet_options: dict[str, Any] | None = None,
) -> RulCalibration:
    """Leave one recorded life out at a time, cut it at ``cuts``, and ``calibrate``."""
    if len(library) < 2:
        raise ValidationError("calibration needs at least 2 recorded lives")
    tr_h, fl_h, true_h = [], [], []
    ends = np.array([failure_level(x) for x in library])
    for j, life in enumerate(library):
        rest = [x for k, x in enumerate(library) if k != j]
        level = float(np.median(np.delete(ends, j)))
        for f in cuts:
            age = f * life.life_h
            t, h = life.truncated(age)
            tr = trend_rul(t, h.min(axis=1), as_of_h=age, confidence=confidence, threshold=level,
                           **(trend_options or {}))  # fmt: skip
            fl = fleet_rul(rest, t, h, age_h=age, confidence=confidence,
                           **(fleet_options or {}))  # fmt: skip
            tr_h.append(tr.hours if tr.known else math.nan)
            fl_h.append(fl.hours if fl.known else math.nan)
            true_h.append(life.life_h - age)
    return calibrate(np.array(tr_h, dtype=float), np.array(fl_h, dtype=float),
                     np.array(true_h), confidence=confidence, offset_h=offset_h,
                     failure_level=float(np.median(ends)))  # fmt: skip


def failure_level(life: FleetHistory, last: int = 3) -> float:
    """The health index a life ended at: the median of its last ``last`` points (the
    smallest indicator where it has several)."""
    return float(np.median(np.min(life.health[-last:], axis=1)))


