"""RUL learned from the fleet: matching a health trajectory against recorded lives.

Contract: ``FleetHistory`` is one past life of an asset of the same type (its health
index from the life's start, a failure or replacement, to its failure at ``life_h``);
``fleet_rul(library, times_h, health) -> RulEstimate`` for an asset whose life started at
time 0 of ``times_h``. Pure.

Similarity of trajectories, as a posterior over alignments. For every past life ``j``,
every alignment end ``tau`` on it (``n_tau`` points up to ``life_j``) and every rate
``r`` (``rates``: the past life ran ``r`` times as fast), the asset's recent history (its
last ``window_h`` hours, at most ``max_points`` points) is laid on life ``j`` ending at
``tau``, its time offsets scaled by ``r``; the misfit is the sum of squared health
differences ``SSE`` (summed over the indicators where health has several columns). Each
alignment's weight is::

    exp(-evidence / 2 * SSE / SSE_best  -  log(tau / (r age))^2 / (2 s_age^2)
        -  log(r)^2 / (2 s_rate^2))

``SSE_best`` is the best alignment's misfit over the whole library (floored at
``noise_floor^2`` per point compared): trajectories never match exactly, so the misfit is
judged against the best achievable rather than against the noise, and ``evidence`` says
how many independent points a doubling of the misfit is worth. The age term says an asset
degrading like life ``j`` at rate ``r`` is likely near ``r`` times its age there. Its RUL
is ``(life_j - tau) / r``. The estimate is the weighted median over all alignments and
lives, the interval their weighted ``confidence`` quantiles (``analytics.rul`` calibrates
it). An asset with a flat history is placed by its age alone: about the fleet's
residual life at that age.

Unknown when the library is empty (``no_fleet_history``) or the asset has fewer than 3
points (``too_little_history``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.rul_types import RulEstimate, unknown
from graph.errors import ValidationError

__all__ = ["METHOD", "FleetHistory", "fleet_rul"]

METHOD = "fleet"
_RATES = tuple(float(r) for r in np.exp(np.linspace(np.log(0.5), np.log(2.0), 11)))


@dataclass(frozen=True, slots=True, eq=False)
class FleetHistory:
    """One recorded life: health at hours since the life's start, failed at ``life_h``."""

    asset_id: str
    times_h: np.ndarray
    health: np.ndarray
    life_h: float

    def __post_init__(self) -> None:
        t, h = np.asarray(self.times_h, float), _columns(self.health)
        if t.ndim != 1 or len(t) != len(h) or len(t) < 2:
            raise ValidationError(f"history {self.asset_id!r}: times and health must match")
        if not (np.isfinite(self.life_h) and self.life_h > 0):
            raise ValidationError(f"history {self.asset_id!r}: life must be positive")
        ok = np.isfinite(t) & np.all(np.isfinite(h), axis=1)
        object.__setattr__(self, "times_h", t[ok])
        object.__setattr__(self, "health", h[ok])

    def truncated(self, age_h: float) -> tuple[np.ndarray, np.ndarray]:
        """The history up to ``age_h`` hours (to test an estimator on a past life)."""
        keep = self.times_h <= age_h
        return self.times_h[keep], self.health[keep]


def _columns(health: np.ndarray) -> np.ndarray:
    h = np.asarray(health, dtype=float)
    return h[:, None] if h.ndim == 1 else h


def _weighted_quantiles(x: np.ndarray, w: np.ndarray, qs: Sequence[float]) -> np.ndarray:
    order = np.argsort(x)
    cw = np.cumsum(w[order])
    cw /= cw[-1]
    return x[order][np.minimum(np.searchsorted(cw, qs), len(x) - 1)]


def fleet_rul(
    library: Sequence[FleetHistory],
    times_h: np.ndarray,
    health: np.ndarray,
    *,
    age_h: float | None = None,
    window_h: float = 300.0,
    max_points: int = 40,
    n_tau: int = 200,
    rates: Sequence[float] = _RATES,
    evidence: float = 3.0,
    noise_floor: float = 0.01,
    age_sigma: float = 0.35,
    rate_sigma: float = 0.25,
    confidence: float = 0.8,
) -> RulEstimate:
    t = np.asarray(times_h, dtype=float)
    h = _columns(health)
    if t.ndim != 1 or len(t) != len(h) or h.ndim != 2:
        raise ValidationError("times_h must be 1-D and health (n,) or (n, indicators)")
    if not library:
        return unknown("no_fleet_history", METHOD, confidence)
    if any(life.health.shape[1] != h.shape[1] for life in library):
        raise ValidationError("the library's lives and the asset must have the same indicators")
    ok = np.isfinite(t) & np.all(np.isfinite(h), axis=1)
    t, h = t[ok], h[ok]
    if len(t) < 3:
        return unknown("too_little_history", METHOD, confidence)
    age = float(t[-1]) if age_h is None else float(age_h)
    age = max(age, 1e-6)
    recent = t >= age - window_h
    tq, hq = t[recent], h[recent]
    if len(tq) > max_points:
        pick = np.linspace(0, len(tq) - 1, max_points).round().astype(int)
        tq, hq = tq[pick], hq[pick]
    dt = age - tq  # offsets back from now, >= 0
    r = np.asarray(rates, dtype=float)[:, None, None]
    misfit, prior, rul = [], [], []
    kernel = _compiled()
    rates_1d = np.ascontiguousarray(r[:, 0, 0])
    hq_c = np.ascontiguousarray(hq)
    for life in library:
        tau = np.linspace(life.life_h / n_tau, life.life_h, n_tau)[None, :, None]
        if kernel is not None:
            sse = np.zeros((len(rates_1d), n_tau))
            kernel(life.times_h, np.ascontiguousarray(life.health), tau[0, :, 0].copy(),
                   rates_1d, dt, hq_c, sse)  # fmt: skip
        else:
            sse = _misfit(life, tau, r, dt, hq)
        rr, tt = r[:, :, 0], tau[:, :, 0]
        misfit.append(sse.ravel())
        prior.append((-np.log(tt / (rr * age)) ** 2 / (2 * age_sigma**2)
                      - np.log(rr) ** 2 / (2 * rate_sigma**2)).ravel())  # fmt: skip
        rul.append(((life.life_h - tt) / rr).ravel())
    sse_all = np.concatenate(misfit)
    scale = max(float(sse_all.min()), noise_floor**2 * len(hq) * h.shape[1])
    lw_all = -evidence / 2 * sse_all / scale + np.concatenate(prior)
    w = np.exp(lw_all - lw_all.max())
    x = np.concatenate(rul)
    # alignments below 1e-12 of the best weigh together less than 1e-7 of the total
    # (at most ~30,000 of them): the quantiles sort only the others
    keep = w > 1e-12
    x, w = x[keep], w[keep]
    lo, mid, hi = _weighted_quantiles(x, w, [0.5 - confidence / 2, 0.5, 0.5 + confidence / 2])
    return RulEstimate(float(mid), float(lo), float(hi), confidence, METHOD)


def _misfit(
    life: FleetHistory, tau: np.ndarray, r: np.ndarray, dt: np.ndarray, hq: np.ndarray
) -> np.ndarray:
    """``(R, T)`` sum of squared differences of every alignment, with numpy."""
    at = tau - r * dt[None, None, :]  # (R, T, m) times on the past life
    sse = np.zeros(at.shape[:2])
    for d in range(hq.shape[1]):
        lib = np.interp(at, life.times_h, life.health[:, d], left=1.0)
        sse += ((lib - hq[:, d]) ** 2).sum(axis=2)
    return sse


def _misfit_loops(
    xp: np.ndarray,
    fp: np.ndarray,
    tau: np.ndarray,
    rates: np.ndarray,
    dt: np.ndarray,
    hq: np.ndarray,
    sse: np.ndarray,
) -> None:
    """``_misfit`` as loops for numba, adding into ``sse``: for a rate and a point of
    the recent history the times on the past life rise with ``tau``, so one pointer walks
    the life's points instead of a search per alignment. The interpolation is
    ``np.interp``'s (1 before the first point, the last value after the last)."""
    n = len(xp)
    n_dim = fp.shape[1]
    slope = np.empty((max(n - 1, 1), n_dim))
    for j in range(n - 1):
        for d in range(n_dim):
            slope[j, d] = (fp[j + 1, d] - fp[j, d]) / (xp[j + 1] - xp[j])
    for ri in range(len(rates)):
        for mi in range(len(dt)):
            j = 0
            for ti in range(len(tau)):
                x = tau[ti] - rates[ri] * dt[mi]
                acc = 0.0
                if x < xp[0]:
                    for d in range(n_dim):
                        e = 1.0 - hq[mi, d]
                        acc += e * e
                elif x >= xp[n - 1]:
                    for d in range(n_dim):
                        e = fp[n - 1, d] - hq[mi, d]
                        acc += e * e
                else:
                    while xp[j + 1] <= x:
                        j += 1
                    for d in range(n_dim):
                        e = slope[j, d] * (x - xp[j]) + fp[j, d] - hq[mi, d]
                        acc += e * e
                sse[ri, ti] += acc


@functools.cache
def _compiled() -> Callable[..., Any] | None:
    """The misfit loops compiled by numba (cached on disk, ``sim.fastpath.jit``), or
    None without numba (then numpy does it, several times slower)."""
    try:
        from sim.fastpath import jit

        return jit(_misfit_loops, on_reset=_compiled.cache_clear, nogil=True)
    except ImportError:
        return None
