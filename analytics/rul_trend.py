"""RUL by extrapolating a health index's recent trend to its failure threshold.

Contract: ``trend_rul(times_h, health, ...) -> RulEstimate``. ``times_h`` are hours on
any origin (increasing), ``health`` the index at those times (1 as new, 0 failed; NaN
points are left out). Pure.

The trend is an ordinary least-squares line through the last ``recent`` share of the
points (at least ``min_points``). The RUL is the time from the last point (``as_of_h``,
default the last time given) until the line reaches ``threshold`` (0 by default): 0 when
the fitted level already is there. The interval is where the line's ``confidence``
band (Student t, the regression's standard error) crosses the threshold (Fieller's
interval for the crossing time), so it reflects the noise and the length of the
history, not a change of degradation rate; ``analytics.rul`` calibrates it on the fleet.

Unknown, with the reason, when there are fewer than ``min_points`` points or the history
spans less than ``min_span_h`` (``too_little_history``), the slope is not negative
(``not_degrading``), or the slope is not significant at the band's level, the band
never crosses the threshold, or the crossing lies more than ``max_ratio`` times the
history's span ahead (``no_trend``: a slope that small says nothing that far out; a noisy
steady signal would otherwise get an RUL of decades).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from analytics.rul_types import RulEstimate, unknown
from graph.errors import ValidationError

__all__ = ["METHOD", "trend_rul"]

METHOD = "trend"


def trend_rul(
    times_h: np.ndarray,
    health: np.ndarray,
    *,
    threshold: float = 0.0,
    as_of_h: float | None = None,
    recent: float = 0.2,
    min_points: int = 8,
    min_span_h: float = 0.0,
    confidence: float = 0.8,
    max_ratio: float = 10.0,
) -> RulEstimate:
    t = np.asarray(times_h, dtype=float)
    y = np.asarray(health, dtype=float)
    if t.shape != y.shape or t.ndim != 1:
        raise ValidationError("times_h and health must be 1-D arrays of one length")
    if not (0 < recent <= 1 and 0 < confidence < 1 and min_points >= 3):
        raise ValidationError("recent in (0, 1], confidence in (0, 1), min_points >= 3")
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    if len(t) < min_points or (len(t) and t[-1] - t[0] < min_span_h):
        return unknown("too_little_history", METHOD, confidence)
    now = float(t[-1]) if as_of_h is None else float(as_of_h)
    span = float(t[-1] - t[0])
    k = max(min_points, int(math.ceil(recent * len(t))))
    t, y = t[-k:], y[-k:]
    n = len(t)
    tm = float(t.mean())
    sxx = float(((t - tm) ** 2).sum())
    if sxx <= 0:
        return unknown("too_little_history", METHOD, confidence)
    b = float(((t - tm) * (y - y.mean())).sum() / sxx)
    a = float(y.mean()) - b * tm
    resid = y - (a + b * t)
    s2 = float((resid**2).sum() / (n - 2))
    q = float(stats.t.ppf(0.5 + confidence / 2, n - 2))
    if b >= 0:
        return unknown("not_degrading", METHOD, confidence)
    if s2 > 0 and abs(b) / math.sqrt(s2 / sxx) < q:
        return unknown("no_trend", METHOD, confidence)
    c = a - threshold
    cross = -c / b
    hours = max(cross - now, 0.0)
    if hours > max_ratio * span:  # a slope too small to extrapolate that far
        return unknown("no_trend", METHOD, confidence)
    # (c + b t)^2 = q^2 s^2 (1/n + (t - tm)^2 / sxx): where the band meets the threshold
    g = q * q * s2
    qa = b * b - g / sxx
    qb = 2 * b * c + 2 * g * tm / sxx
    qc = c * c - g / n - g * tm * tm / sxx
    if qa <= 0:  # the band never leaves the threshold on one side: no bounded interval
        return unknown("no_trend", METHOD, confidence)
    # with qa > 0 both roots are real (the curve is <= 0 at the line's crossing); a
    # negative discriminant is rounding, on a noise-free line
    r = math.sqrt(max(qb * qb - 4 * qa * qc, 0.0))
    lo_t, hi_t = sorted(((-qb - r) / (2 * qa), (-qb + r) / (2 * qa)))
    low = min(max(lo_t - now, 0.0), hours)
    high = max(hi_t - now, hours)
    return RulEstimate(hours, low, high, confidence, METHOD)
