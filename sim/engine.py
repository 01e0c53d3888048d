"""The integrators: fixed-step RK4 over a batch, and adaptive ``solve_ivp``.

``rk4`` evaluates inputs a chunk of steps at a time and keeps only every
``record_every``-th step. It steps either with the model's compiled scalar kernel
(``sim.fastpath``: numba, one scenario after the other, the default where the model has
a kernel) or vectorised (every scenario of the batch together, one numpy call per model
term per stage, needed for events). ``solve_adaptive`` runs each scenario through
``scipy.integrate.solve_ivp`` (LSODA by default, for stiff or event-driven runs),
restarting at the jumps of step inputs. The compiled adaptive Dormand–Prince 5(4) is
``sim.dopri.dopri5`` (the default of scenarios that give no step).

Both take a ``progress`` hook called between chunks with the fraction done; it may raise
(see ``events.cancel_on``) to cancel the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from graph.errors import ValidationError
from sim.batch import DEFAULT_LIMITS, InputsArg, Limits, check_time, prepare_batch
from sim.events import Event, EventHit, Progress, Trajectory
from sim.fastpath import kernel_available, rk4_kernel
from sim.model import Model

__all__ = ["DEFAULT_LIMITS", "Limits", "rk4", "solve_adaptive"]

_PATHS = ("auto", "vector", "compiled")


def _watch(model: Model, events: Sequence[Event]) -> list[tuple[Event, str, int]]:
    return [(e, *e.resolve(model)) for e in events]


def _values(watch: list[tuple[Event, str, int]], x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    cols = [(x if kind == "state" else y)[:, i] - e.threshold for e, kind, i in watch]  # type: ignore[index]
    return np.stack(cols, axis=1)


def rk4(
    model: Model,
    x0: np.ndarray | Sequence[float],
    *,
    horizon_s: float,
    dt: float,
    inputs: InputsArg = None,
    params: np.ndarray | Sequence[float] | None = None,
    record_every: int = 1,
    events: Sequence[Event] = (),
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
    path: str = "auto",
) -> Trajectory:
    """Classic fourth-order Runge-Kutta at fixed step ``dt`` over ``[0, horizon_s]``.

    ``x0`` is ``(batch, n_states)`` (or one state vector), ``params`` ``(1|batch,
    n_params)`` (default: the model's defaults). The last step is shortened to land on
    ``horizon_s``. Rows are recorded at t=0, every ``record_every`` steps and at the end.
    Events are checked after every step; the crossing time is interpolated linearly.

    ``path`` picks the implementation: ``"vector"`` (numpy over the batch),
    ``"compiled"`` (the model's scalar kernel compiled with numba, see ``sim.fastpath``;
    no events) or ``"auto"``: compiled when the model has a kernel and no events are
    watched (it measured faster at every batch size, 1 to 1,000: ``bench/bench_sim.py``),
    vectorised otherwise.
    """
    if path not in _PATHS:
        raise ValidationError(f"path must be one of {_PATHS}, got {path!r}")
    x, p, schedule = prepare_batch(model, x0, params, inputs, limits)
    n_steps = check_time(horizon_s, dt, limits)
    if not (isinstance(record_every, int) and record_every >= 1):
        raise ValidationError(f"record_every must be a positive integer, got {record_every!r}")
    batch = x.shape[0]
    rec_steps = list(range(0, n_steps + 1, record_every))
    if rec_steps[-1] != n_steps:
        rec_steps.append(n_steps)
    width = len(model.states) + len(model.outputs)
    if len(rec_steps) * batch * width > limits.max_recorded_values:
        raise ValidationError(
            f"{len(rec_steps)} records x {batch} scenarios would exceed "
            f"{limits.max_recorded_values} values: raise record_every (output interval)"
        )
    compiled = path == "compiled" or (path == "auto" and not events and kernel_available(model))
    if compiled and (events or not kernel_available(model)):
        raise ValidationError(
            f"the compiled path needs a model kernel and numba, and takes no events "
            f"(model {model.name!r}, {len(events)} events)"
        )
    watch = _watch(model, events)
    need_y = any(kind == "output" for _, kind, _ in watch)
    prep = model.prepare(p)
    f = model.rhs
    times = np.array([min(s * dt, horizon_s) for s in rec_steps])
    xs = np.full((len(times), batch, len(model.states)), np.nan)
    ys = np.full((len(times), batch, len(model.outputs)), np.nan)
    u_now = schedule.at(np.zeros(1))[0]
    xs[0] = x
    ys[0] = model.observe(0.0, x, u_now, prep)
    g_prev = _values(watch, x, ys[0]) if watch else None
    alive = np.ones(batch, dtype=bool)
    end_times = np.full(batch, float(horizon_s))
    hit_mask = np.zeros((batch, len(watch)), dtype=bool)
    hits: list[EventHit] = []
    rec_i = 1
    next_rec = rec_steps[1] if len(rec_steps) > 1 else -1
    chunk = max(1, min(4096, limits.chunk_values // max(1, 3 * schedule.width * len(model.inputs))))
    step = 0
    if compiled:
        rk4_kernel(
            model,
            x,
            p,
            schedule,
            n_steps=n_steps,
            dt=dt,
            horizon_s=horizon_s,
            record_every=record_every,
            times=times,
            xs=xs,
            ys=ys,
            chunk=chunk,
            progress=progress,
        )
        step = n_steps
    while step < n_steps and alive.any():
        k = min(chunk, n_steps - step)
        t_start = np.arange(step, step + k) * dt
        t_end = np.minimum(np.arange(step + 1, step + k + 1) * dt, horizon_s)
        if schedule.constant:
            stages = None
            u0 = uh = u1 = u_now
        else:
            stages = np.concatenate(
                [
                    schedule.at(np.concatenate([t_start, (t_start + t_end) / 2])),
                    schedule.at(t_end, True),
                ]
            )
        for j in range(k):
            t = t_start[j]
            h = t_end[j] - t
            h2 = 0.5 * h
            if stages is not None:
                u0, uh, u1 = stages[j], stages[k + j], stages[2 * k + j]
            k1 = f(t, x, u0, prep)
            k2 = f(t + h2, x + h2 * k1, uh, prep)
            k3 = f(t + h2, x + h2 * k2, uh, prep)
            k4 = f(t + h, x + h * k3, u1, prep)
            x_new = x + (h / 6.0) * (k1 + 2.0 * (k2 + k3) + k4)
            step += 1
            y = model.observe(t + h, x_new, u1, prep) if (need_y or step == next_rec) else None
            if watch:
                was_alive = alive.copy()
                g = _values(watch, x_new, y)
                for e_i, (event, _, _) in enumerate(watch):
                    crossed = event.crossed(g_prev[:, e_i], g[:, e_i]) & alive & ~hit_mask[:, e_i]  # type: ignore[index]
                    for b in np.flatnonzero(crossed):
                        a, c = g_prev[b, e_i], g[b, e_i]  # type: ignore[index]
                        when = float(t + h * (a / (a - c) if a != c else 1.0))
                        hit_mask[b, e_i] = True
                        hits.append(EventHit(event.name, int(b), when, event.terminal))
                        if event.terminal:
                            alive[b] = False
                            end_times[b] = when
                g_prev = g
                if not alive.all():
                    # scenarios stopped earlier stay frozen; one stopped in this step keeps
                    # its state at the step's end: a row recorded there (event exactly on
                    # the record time) matches its outputs, later rows are NaN
                    x_new = np.where(was_alive[:, None], x_new, x)
            x = x_new
            if step == next_rec:
                if not np.all(np.isfinite(x)):
                    raise ValidationError(
                        f"integration of {model.name!r} diverged by t={t + h:g} s: "
                        f"the step {dt} s is too large for these parameters",
                        details={"time_s": float(t + h)},
                    )
                xs[rec_i] = x
                ys[rec_i] = y
                done = end_times < t + h
                xs[rec_i, done] = np.nan
                ys[rec_i, done] = np.nan
                rec_i += 1
                next_rec = rec_steps[rec_i] if rec_i < len(rec_steps) else -1
            if not alive.any():
                break
        if progress is not None:
            progress(step / n_steps)
    return Trajectory(
        model=model.name,
        times=times,
        states=xs,
        outputs=ys,
        state_names=model.state_names,
        output_names=model.output_names,
        end_times=end_times,
        events=tuple(sorted(hits, key=lambda e: (e.scenario, e.time_s))),
        steps=step,
    )


def solve_adaptive(
    model: Model,
    x0: np.ndarray | Sequence[float],
    *,
    horizon_s: float,
    output_every_s: float,
    inputs: InputsArg = None,
    params: np.ndarray | Sequence[float] | None = None,
    events: Sequence[Event] = (),
    method: str = "LSODA",
    rtol: float = 1e-6,
    atol: float = 1e-8,
    max_step: float = math.inf,
    progress: Progress | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> Trajectory:
    """Adaptive integration through ``solve_ivp``, one scenario at a time.

    Integration restarts at each jump of a step input so the solver never steps across a
    discontinuity. Outputs are sampled every ``output_every_s``.
    """
    x, p, schedule = prepare_batch(model, x0, params, inputs, limits)
    n_out = check_time(horizon_s, output_every_s, limits)
    batch = x.shape[0]
    times = np.minimum(np.arange(n_out + 1) * output_every_s, horizon_s)
    if times.size * batch * (len(model.states) + len(model.outputs)) > limits.max_recorded_values:
        raise ValidationError("too many recorded values: raise output_every_s")
    watch = _watch(model, events)
    xs = np.full((times.size, batch, len(model.states)), np.nan)
    ys = np.full((times.size, batch, len(model.outputs)), np.nan)
    end_times = np.full(batch, float(horizon_s))
    hits: list[EventHit] = []
    cuts = [0.0, *schedule.breakpoints(horizon_s), float(horizon_s)]
    calls = 0
    for b in range(batch):
        prep = model.prepare(p[b : b + 1] if p.shape[0] > 1 else p)
        col = b if schedule.width > 1 else 0

        def u_at(t: float, col: int = col) -> np.ndarray:
            return schedule.at(np.array([t]))[0, col : col + 1]

        def fun(t: float, y: np.ndarray, prep: Any = prep, b: int = b) -> np.ndarray:
            nonlocal calls
            calls += 1
            if progress is not None and calls % 2000 == 0:
                progress((b + t / horizon_s) / batch)
            return model.rhs(t, y[None, :], u_at(t), prep)[0]

        ev_funcs = []
        for event, kind, i in watch:

            def g(
                t: float,
                y: np.ndarray,
                e: Event = event,
                kind: str = kind,
                i: int = i,
                prep: Any = prep,
            ) -> float:
                if kind == "state":
                    return float(y[i] - e.threshold)
                return float(model.observe(t, y[None, :], u_at(t), prep)[0, i] - e.threshold)

            g.terminal = event.terminal  # type: ignore[attr-defined]
            g.direction = {"rising": 1, "falling": -1, "either": 0}[event.direction]  # type: ignore[attr-defined]
            ev_funcs.append(g)
        y0 = x[b]
        fired: set[str] = set()
        for a, c in zip(cuts, cuts[1:], strict=False):
            last = c >= horizon_s
            mask = (times >= a) & ((times <= c) if last else (times < c))
            t_eval = np.union1d(times[mask], [c])
            sol = solve_ivp(
                fun,
                (a, c),
                y0,
                method=method,
                t_eval=t_eval,
                events=ev_funcs or None,
                rtol=rtol,
                atol=atol,
                max_step=max_step,
            )
            if sol.status == -1:
                raise ValidationError(f"adaptive integration failed: {sol.message}")
            for t_r, y_r in zip(sol.t, sol.y.T, strict=True):
                rows = np.flatnonzero(mask & (times == t_r))
                if rows.size:
                    xs[rows[0], b] = y_r
                    ys[rows[0], b] = model.observe(t_r, y_r[None, :], u_at(t_r), prep)[0]
            stop = False
            for (event, _, _), t_ev in zip(watch, sol.t_events or [], strict=False):
                for t_hit in t_ev:
                    if event.name in fired:
                        continue
                    fired.add(event.name)
                    hits.append(EventHit(event.name, b, float(t_hit), event.terminal))
                    if event.terminal:
                        end_times[b] = float(t_hit)
                        stop = True
            if stop or sol.status == 1:
                break
            y0 = sol.y[:, -1]
        if progress is not None:
            progress((b + 1) / batch)
    return Trajectory(
        model=model.name,
        times=times,
        states=xs,
        outputs=ys,
        state_names=model.state_names,
        output_names=model.output_names,
        end_times=end_times,
        events=tuple(sorted(hits, key=lambda e: (e.scenario, e.time_s))),
        steps=calls,
    )
