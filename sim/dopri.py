"""The compiled adaptive integrator: Dormand–Prince 5(4) with error control ("dopri5").

``dopri5`` checks a run and records it like ``engine.rk4`` (a ``Trajectory``, outputs
from the model's vectorised ``observe`` over the recorded rows); ``integrate`` is the
compiled core, returning per-scenario step counts (``DopriStats``).

Each scenario of the batch takes its own step sizes: the embedded fourth-order solution
estimates the local error, a step whose scaled RMS error (``atol + rtol * |x|`` per
state) exceeds 1 is rejected and retried smaller (``0.9 * err^(-1/5)``, at least 0.2x),
and an accepted step sets the next with Hairer's PI controller, ``0.9 * err^-(0.2 - 0.75
beta) * err_prev^beta``, beta = 0.04 (between 0.2x and 10x; no growth right after a
rejection): the integral term damps the accept/reject oscillation an explicit method
falls into where stability rather than accuracy limits the step (the pump's water
column, a ~0.6 s mode, over an hour).
Recorded rows come from the method's fourth-order dense output (Shampine's
coefficients, as in ``scipy.integrate.RK45``), so the output interval never limits the
step. The first step is chosen as Hairer, Nørsett and Wanner (II.4) do.

Why per-scenario steps rather than one step shared by the batch with per-scenario error
norms: scenarios of a Monte Carlo batch differ in parameters (wear, time constants) and
so in how fast they move; a shared step is set by the fastest scenario and costs every
other one the same number of steps, while the compiled loop has no per-call overhead to
amortise over the batch. Scenario after scenario in one compiled loop is as fast per
step as it gets, and each scenario does only the work its own accuracy needs.

Inputs: the run is cut at every breakpoint of every input series (the jumps of step
inputs, the corners of linear ones), so within a segment each input is exactly
``u(a) + slope * (t - a)`` and the integrator never steps across a discontinuity; the
derivative is evaluated afresh at each cut (a step input's new value applies from it)
while the step size carries over.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from graph.errors import ValidationError
from sim.batch import DEFAULT_LIMITS, InputsArg, Limits, check_time, prepare_batch
from sim.events import Progress, Trajectory
from sim.fastpath import jit, kernel, kernel_available, model_constants
from sim.inputs import InputSchedule
from sim.model import Model

__all__ = ["STATUS", "DopriStats", "dopri5", "integrate", "segments"]

STATUS = {1: "more steps than allowed", 2: "the step size fell to rounding (stiff or not finite)"}

_C = np.array([0.0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0])
_A = np.array(
    [
        [0.0, 0.0, 0.0, 0.0, 0.0],
        [1 / 5, 0.0, 0.0, 0.0, 0.0],
        [3 / 40, 9 / 40, 0.0, 0.0, 0.0],
        [44 / 45, -56 / 15, 32 / 9, 0.0, 0.0],
        [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729, 0.0],
        [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
    ]
)
_B = np.array([35 / 384, 0.0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84, 0.0])
_E = np.array([-71 / 57600, 0.0, 71 / 16695, -71 / 1920, 17253 / 339200, -22 / 525, 1 / 40])
_P = np.array(
    [
        [1.0, -8048581381 / 2820520608, 8663915743 / 2820520608, -12715105075 / 11282082432],
        [0.0, 0.0, 0.0, 0.0],
        [
            0.0,
            131558114200 / 32700410799,
            -68118460800 / 10900136933,
            87487479700 / 32700410799,
        ],
        [
            0.0,
            -1754552775 / 470086768,
            14199869525 / 1410260304,
            -10690763975 / 1880347072,
        ],
        [
            0.0,
            127303824393 / 49829197408,
            -318862633887 / 49829197408,
            701980252875 / 199316789632,
        ],
        [0.0, -282668133 / 205662961, 2019193451 / 616988883, -1453857185 / 822651844],
        [0.0, 40617522 / 29380423, -110615467 / 29380423, 69997945 / 29380423],
    ]
)
_TABLEAU = (_A, _B, _C, _E, _P)


def _advance(
    f: Any,
    x: np.ndarray,  # (block, n) states, advanced in place
    c: np.ndarray,  # (1 | block, n_constants)
    cuts: np.ndarray,  # (S + 1,) segment bounds
    u0: np.ndarray,  # (S, 1 | block, n_inputs) inputs at each segment's start
    slope: np.ndarray,  # (S, 1 | block, n_inputs) their rate within the segment
    rec_t: np.ndarray,  # (R,) record times in (cuts[0], cuts[-1]], sorted
    rec_row: np.ndarray,  # (R,) their rows in out
    out: np.ndarray,  # (m, batch, n) recorded states
    b0: int,  # column of x[0] in out
    h: np.ndarray,  # (block, 2) each scenario's next step (0: choose one), last error
    stats: np.ndarray,  # (block, 4) int64: accepted, rejected, evaluations, status
    rtol: float,
    atol: float,
    max_step: float,
    max_steps: int,
    tableau: Any,
) -> None:  # pragma: no cover - runs compiled
    a_tab, b_tab, c_tab, e_tab, p_tab = tableau
    block, n = x.shape
    n_in = u0.shape[2]
    wide_u = u0.shape[1] > 1
    wide_c = c.shape[0] > 1
    k = np.empty((7, n))
    xt = np.empty(n)
    xn = np.empty(n)
    ut = np.empty(n_in)
    for b in range(block):
        if stats[b, 3] != 0:
            continue
        cb = c[b] if wide_c else c[0]
        ub = b if wide_u else 0
        xb = x[b]
        r = 0
        for s in range(cuts.shape[0] - 1):
            a = cuts[s]
            end = cuts[s + 1]
            if end <= a:
                continue
            t = a
            for j in range(n_in):
                ut[j] = u0[s, ub, j]
            f(t, xb, ut, cb, k[0])
            stats[b, 2] += 1
            if h[b, 0] <= 0.0:  # first step: Hairer, Norsett & Wanner II.4
                d0 = 0.0
                d1 = 0.0
                for i in range(n):
                    sc = atol + rtol * abs(xb[i])
                    d0 += (xb[i] / sc) ** 2
                    d1 += (k[0, i] / sc) ** 2
                d0 = math.sqrt(d0 / n)
                d1 = math.sqrt(d1 / n)
                h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
                h0 = min(h0, end - a)
                for i in range(n):
                    xt[i] = xb[i] + h0 * k[0, i]
                for j in range(n_in):
                    ut[j] = u0[s, ub, j] + slope[s, ub, j] * h0
                f(t + h0, xt, ut, cb, k[1])
                stats[b, 2] += 1
                d2 = 0.0
                for i in range(n):
                    sc = atol + rtol * abs(xb[i])
                    d2 += ((k[1, i] - k[0, i]) / sc) ** 2
                d2 = math.sqrt(d2 / n) / h0
                dm = max(d1, d2)
                h1 = max(1e-6, h0 * 1e-3) if dm <= 1e-15 else (0.01 / dm) ** 0.2
                h[b, 0] = min(100.0 * h0, h1)
                h[b, 1] = 1e-4
            rejected = False
            while t < end:
                if stats[b, 0] >= max_steps:
                    stats[b, 3] = 1
                    break
                hh = min(h[b, 0], max_step)
                last = hh >= (end - t) * (1.0 - 1e-12)
                if last:
                    hh = end - t
                for st in range(1, 6):
                    for i in range(n):
                        acc = xb[i]
                        for m in range(st):
                            acc += hh * a_tab[st, m] * k[m, i]
                        xt[i] = acc
                    dt = c_tab[st] * hh
                    for j in range(n_in):
                        ut[j] = u0[s, ub, j] + slope[s, ub, j] * (t - a + dt)
                    f(t + dt, xt, ut, cb, k[st])
                for i in range(n):
                    acc = xb[i]
                    for m in range(6):
                        acc += hh * b_tab[m] * k[m, i]
                    xn[i] = acc
                t_new = end if last else t + hh
                for j in range(n_in):
                    ut[j] = u0[s, ub, j] + slope[s, ub, j] * (t_new - a)
                f(t_new, xn, ut, cb, k[6])
                stats[b, 2] += 6
                err = 0.0
                for i in range(n):
                    e = 0.0
                    for m in range(7):
                        e += e_tab[m] * k[m, i]
                    sc = atol + rtol * max(abs(xb[i]), abs(xn[i]))
                    err += (hh * e / sc) ** 2
                err = math.sqrt(err / n)
                if err <= 1.0:  # accept
                    while r < rec_t.shape[0] and rec_t[r] <= t_new:
                        row = rec_row[r]
                        if rec_t[r] >= t_new:
                            for i in range(n):
                                out[row, b0 + b, i] = xn[i]
                        else:
                            th = (rec_t[r] - t) / hh
                            for i in range(n):
                                acc = 0.0
                                for m in range(7):
                                    q = p_tab[m]
                                    poly = q[0] + th * (q[1] + th * (q[2] + th * q[3]))
                                    acc += k[m, i] * th * poly
                                out[row, b0 + b, i] = xb[i] + hh * acc
                        r += 1
                    for i in range(n):
                        xb[i] = xn[i]
                        k[0, i] = k[6, i]
                    t = t_new
                    stats[b, 0] += 1
                    if err == 0.0:
                        grow = 10.0
                    else:
                        grow = 0.9 * err**-0.17 * h[b, 1] ** 0.04
                        grow = min(10.0, max(0.2, grow))
                    h[b, 1] = max(err, 1e-4)
                    if rejected:
                        grow = min(1.0, grow)
                    if not last or hh * grow > h[b, 0]:
                        h[b, 0] = hh * grow
                    rejected = False
                else:  # reject (err may be inf or nan: shrink hardest)
                    shrink = 0.2 if not err < 1e300 else max(0.2, 0.9 * err**-0.2)
                    h[b, 0] = hh * shrink
                    rejected = True
                    stats[b, 1] += 1
                    if h[b, 0] < 1e-13 * max(1.0, abs(t)):
                        stats[b, 3] = 2
                        break
            if stats[b, 3] != 0:
                break


@functools.cache
def _loop(cls: type[Model]) -> Callable[..., None]:
    return jit(_advance, _loop.cache_clear, cls)


def segments(schedule: InputSchedule, horizon_s: float) -> np.ndarray:
    """The cuts ``0 < ... < horizon_s``: every breakpoint of every input series inside."""
    inner = {
        t for col in schedule.columns for series in col for t in series.times if 0.0 < t < horizon_s
    }
    return np.array([0.0, *sorted(inner), float(horizon_s)])


class DopriStats:
    """Counts of one ``integrate`` call, per scenario."""

    __slots__ = ("accepted", "evaluations", "rejected")

    def __init__(self, stats: np.ndarray) -> None:
        self.accepted = stats[:, 0].copy()
        self.rejected = stats[:, 1].copy()
        self.evaluations = stats[:, 2].copy()


def integrate(
    model: Model,
    x: np.ndarray,
    p: np.ndarray,
    schedule: InputSchedule,
    *,
    times: np.ndarray,
    xs: np.ndarray,
    rtol: float,
    atol: float,
    max_step: float,
    max_steps: int,
    chunk_values: int,
    progress: Progress | None,
) -> DopriStats:
    """Fill ``xs[1:]`` (states at ``times[1:]``, ``times[0] == 0``) from ``x``, compiled.

    Runs the batch in blocks of scenarios and the horizon in chunks of segments (inputs
    precomputed per chunk), calling ``progress`` after each; raises ``ValidationError``
    when a scenario needs more than ``max_steps`` steps or its step collapses."""
    horizon = float(times[-1])
    f = kernel(model)
    loop = _loop(type(model))  # type: ignore[arg-type]  # a class is Hashable: python/mypy#11470
    c = model_constants(model, p)
    batch = x.shape[0]
    x = np.array(x, dtype=float, order="C")
    cuts = segments(schedule, horizon)
    n_seg = cuts.size - 1
    per_seg = 2 * schedule.width * max(1, len(model.inputs))
    seg_chunk = max(1, min(n_seg, chunk_values // per_seg))
    n_blocks = min(batch, max(1, min(50, batch // 8)))
    bounds = np.linspace(0, batch, n_blocks + 1).astype(int)
    h = np.zeros((batch, 2))
    stats = np.zeros((batch, 4), dtype=np.int64)
    rows = np.arange(times.size)
    done = 0.0
    for s0 in range(0, n_seg, seg_chunk):
        s1 = min(n_seg, s0 + seg_chunk)
        c_chunk = np.ascontiguousarray(cuts[s0 : s1 + 1])
        u0 = schedule.at(c_chunk[:-1])
        u1 = schedule.at(c_chunk[1:], True)
        slope = (u1 - u0) / np.diff(c_chunk)[:, None, None]
        lo, hi = np.searchsorted(times, [c_chunk[0], c_chunk[-1]], side="right")
        rec_t = np.ascontiguousarray(times[lo:hi])
        rec_row = np.ascontiguousarray(rows[lo:hi])
        span = (c_chunk[-1] - c_chunk[0]) / horizon
        for b0, b1 in zip(bounds[:-1], bounds[1:], strict=True):
            wide = schedule.width > 1
            loop(
                f,
                x[b0:b1],
                c[b0:b1] if c.shape[0] > 1 else c,
                c_chunk,
                np.ascontiguousarray(u0[:, b0:b1]) if wide else u0,
                np.ascontiguousarray(slope[:, b0:b1]) if wide else slope,
                rec_t,
                rec_row,
                xs,
                int(b0),
                h[b0:b1],
                stats[b0:b1],
                float(rtol),
                float(atol),
                float(max_step),
                int(max_steps),
                _TABLEAU,
            )
            bad = np.flatnonzero(stats[b0:b1, 3])
            if bad.size:
                b = int(b0 + bad[0])
                raise ValidationError(
                    f"adaptive integration (dopri5) of {model.name!r} failed for scenario "
                    f"{b}: {STATUS[int(stats[b, 3])]}; loosen rtol/atol or give a fixed step",
                    details={"scenario": b, "steps": int(stats[b, 0])},
                )
            done += span * (b1 - b0) / batch
            if progress is not None:
                progress(min(1.0, done))
    return DopriStats(stats)


def dopri5(
    model: Model,
    x0: np.ndarray | Sequence[float],
    *,
    horizon_s: float,
    output_every_s: float,
    inputs: InputsArg = None,
    params: np.ndarray | Sequence[float] | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    max_step: float = math.inf,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Trajectory:
    """Dormand–Prince 5(4) with error control, compiled, each scenario with its own steps.

    Rows are recorded at t=0, every ``output_every_s`` and at ``horizon_s`` (dense
    output: the interval does not bound the step; ``max_step`` does). Needs the model's
    kernel (``sim.fastpath``); takes no events (use ``rk4`` or ``solve_adaptive``).
    ``Trajectory.steps`` counts accepted steps over the whole batch.
    """
    x, p, schedule = prepare_batch(model, x0, params, inputs, limits)
    n_out = check_time(horizon_s, output_every_s, limits)
    for name, tol in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(tol, int | float) and math.isfinite(tol) and tol > 0):
            raise ValidationError(f"{name} must be a positive number, got {tol!r}", path=name)
    if rtol < 1e-13 or rtol > 0.1:
        raise ValidationError(f"rtol must lie in [1e-13, 0.1], got {rtol}", path="rtol")
    if not max_step > 0:
        raise ValidationError(f"max_step must be positive, got {max_step}", path="max_step")
    if not kernel_available(model):
        raise ValidationError(f"dopri5 needs a compiled kernel; model {model.name!r} has none")
    batch = x.shape[0]
    times = np.minimum(np.arange(n_out + 1) * output_every_s, horizon_s)
    if times.size * batch * (len(model.states) + len(model.outputs)) > limits.max_recorded_values:
        raise ValidationError("too many recorded values: raise output_every_s (output interval)")
    xs = np.full((times.size, batch, len(model.states)), np.nan)
    xs[0] = x
    stats = integrate(
        model,
        x,
        p,
        schedule,
        times=times,
        xs=xs,
        rtol=float(rtol),
        atol=float(atol),
        max_step=float(max_step),
        max_steps=limits.max_steps,
        chunk_values=limits.chunk_values,
        progress=progress,
    )
    u = np.concatenate([schedule.at(times[:1]), schedule.at(times[1:], True)])
    ys = np.empty((times.size, batch, len(model.outputs)))
    rows = max(1, limits.chunk_values // batch)
    for r0 in range(0, times.size, rows):
        r1 = min(times.size, r0 + rows)
        m = r1 - r0
        prep = model.prepare(p if p.shape[0] == 1 else np.tile(p, (m, 1)))
        flat = model.observe(
            np.repeat(times[r0:r1], batch),  # type: ignore[arg-type]
            xs[r0:r1].reshape(m * batch, -1),
            np.broadcast_to(u[r0:r1], (m, batch, u.shape[2])).reshape(m * batch, -1),
            prep,
        )
        ys[r0:r1] = flat.reshape(m, batch, -1)
    return Trajectory(
        model=model.name,
        times=times,
        states=xs,
        outputs=ys,
        state_names=model.state_names,
        output_names=model.output_names,
        end_times=np.full(batch, float(horizon_s)),
        steps=int(stats.accepted.sum()),
    )
