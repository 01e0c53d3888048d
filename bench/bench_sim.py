"""Benchmark: one simulated hour of the pump, fixed-step RK4 and adaptive integrators.

Part ``adaptive`` (issue 12): twinql's compiled Dormand–Prince 5(4) (``sim.dopri5``,
per-scenario steps) against scipy at equal or better accuracy, for 1 scenario and for a
batch (default 1,000 pump scenarios, wear 0..0.6): ``solve_ivp`` RK45 on the stacked
system (one numpy ``rhs`` over the batch), LSODA per scenario (its ``rhs`` the model's
compiled kernel, the cheapest a Python callback gets; on a batch, a sample of scenarios
timed and EXTRAPOLATED, said so), and twinql's fixed-step RK4 at 10 ms (the previous
default). Error: max over states, scenarios and rows (every 10 s) of
``|x - ref| / max(|ref|, 1)`` against ``solve_ivp`` DOP853 at rtol = atol = 1e-12.
Times are min and median over ``--rounds``, the contenders interleaved round after round
(runs under 0.2 s repeated within a round, their first round a warm-up); each scipy row
names the fastest twinql run at equal or better error and the ratio. Load averages
printed before and after.

Part ``rk4``: one simulated hour of the pump at 10 ms steps (360,000 RK4 steps).

Compares both paths of the engine (``sim.rk4``): the compiled scalar kernel
(``path="compiled"``, numba, the default) and the vectorised numpy path
(``path="vector"``), for one scenario and for a batch of 1,000 scenarios, with the
straightforward RK4 they replace: state as a dict of Python floats, new dicts at every
stage, a Python loop per step. The baseline runs a fraction of the hour and is
extrapolated (said so in the output). The compiled path's one-off compile (or numba
cache load) time is printed separately and excluded from its rate. Inputs follow the issue's what-if: speed set to
2,900 rpm from 2,500, inlet pressure ramping down 20 % over the hour.

    python bench/bench_sim.py [--quick] [--part adaptive|rk4|all] [--rounds 3]
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from sim import InputSeries, dopri5, get_model, rk4, solve_adaptive
from sim.fastpath import kernel, model_constants, warm_up

DT = 0.01
HOUR = 3600.0
G, RHO = 9.81, 998.0
BAR_PER_M = RHO * G / 1e5


def baseline_rk4(x: dict[str, float], p: dict[str, float], steps: int) -> dict[str, float]:
    """The design to beat: dict-of-floats RK4, the pump's equations written out."""

    def inputs(t: float) -> dict[str, float]:
        return {
            "speed_setpoint_rpm": 2900.0,
            "inlet_pressure_bar": 1.0 - 0.2 * min(t / HOUR, 1.0),
            "valve_opening": 1.0,
            "ambient_temp_c": 25.0,
        }

    def deriv(t: float, s: dict[str, float]) -> dict[str, float]:
        u = inputs(t)
        w = p["wear"]
        ratio = s["speed_rpm"] / p["rated_speed_rpm"]
        q = s["flow_m3h"]
        qq = q * abs(q)
        head = (p["shutoff_head_m"] * ratio * ratio - p["head_coeff"] * qq) * (
            1 - p["wear_head_loss"] * w
        )
        shaft = (p["shutoff_power_kw"] * ratio**3 + p["power_slope_kw_per_m3h"] * ratio**2 * q) * (
            1 + p["wear_power_gain"] * w
        )
        opening = max(u["valve_opening"], 0.01)
        h_sys = (
            p["static_head_m"]
            - u["inlet_pressure_bar"] / BAR_PER_M
            + (p["pipe_resistance"] + p["valve_resistance"] / opening**2) * qq
        )
        area = math.pi * p["pipe_diameter_m"] ** 2 / 4
        dq = 3600 * G * area / p["pipe_length_m"] * (head - h_sys)
        if q <= 0 and dq < 0:
            dq = 0.0
        heat = (p["friction_heat_kw"] + p["wear_friction_heat_kw"] * w) * abs(ratio) + p[
            "motor_loss_to_bearing"
        ] * (1 / p["motor_efficiency"] - 1) * shaft
        loss = (s["bearing_temp_c"] - u["ambient_temp_c"]) / p["thermal_resistance_k_per_kw"]
        return {
            "speed_rpm": (u["speed_setpoint_rpm"] - s["speed_rpm"]) / p["speed_time_constant_s"],
            "flow_m3h": dq,
            "bearing_temp_c": (heat - loss) / p["thermal_capacitance_kj_per_k"],
        }

    t = 0.0
    for _ in range(steps):
        k1 = deriv(t, x)
        k2 = deriv(t + DT / 2, {k: x[k] + DT / 2 * k1[k] for k in x})
        k3 = deriv(t + DT / 2, {k: x[k] + DT / 2 * k2[k] for k in x})
        k4 = deriv(t + DT, {k: x[k] + DT * k3[k] for k in x})
        x = {k: x[k] + DT / 6 * (k1[k] + 2 * k2[k] + 2 * k3[k] + k4[k]) for k in x}
        t += DT
    return x


def _error(states: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(states - ref) / np.maximum(np.abs(ref), 1.0)))


def adaptive(args: argparse.Namespace) -> None:
    """twinql dopri5 vs scipy RK45 (stacked) and LSODA (per scenario), equal accuracy."""
    pump = get_model("pump")
    horizon = HOUR / 10 if args.quick else HOUR
    every = 10.0
    start = pump.state_vector({"speed_rpm": 2500.0, "flow_m3h": 120.0, "bearing_temp_c": 40.0})
    inputs = {
        "speed_setpoint_rpm": 2900.0,
        "inlet_pressure_bar": InputSeries.ramp(1.0, 0.8, HOUR),
    }

    print(f"load average before: {os.getloadavg()}  ({os.cpu_count()} CPUs)")
    print(f"warm-up (compile or load numba's cache): {warm_up(pump):.2f} s")
    dopri5(pump, start, horizon_s=10.0, output_every_s=1.0, inputs=inputs)
    rng = np.random.default_rng(1)
    for n in (1, args.batch):
        p = np.repeat(pump.param_vector({"wear": 0.3})[None], n, axis=0)
        if n > 1:
            p[:, pump.param_names.index("wear")] = rng.uniform(0.0, 0.6, n)
        _case(args, n, p, start, inputs, horizon, every)
    print(f"\nload average after: {os.getloadavg()}")


def _case(
    args: argparse.Namespace,
    n: int,
    p: np.ndarray,
    start: np.ndarray,
    inputs: dict[str, Any],
    horizon: float,
    every: float,
) -> None:
    pump = get_model("pump")
    kern = kernel(pump)

    def u_at(t: float) -> np.ndarray:  # the same inputs, for scipy's callbacks
        return np.array([2900.0, 1.0 - 0.2 * min(t / HOUR, 1.0), 1.0, 25.0])

    x0 = np.repeat(start[None], n, axis=0)
    prep = pump.prepare(p)
    times = np.minimum(np.arange(math.ceil(horizon / every) + 1) * every, horizon)

    def stacked(t: float, y: np.ndarray, n: int = n, prep: Any = prep) -> np.ndarray:
        return pump.rhs(t, y.reshape(n, 3), u_at(t)[None], prep).ravel()  # noqa: B023

    def ivp(method: str, tol: float, n: int = n, x0: np.ndarray = x0) -> np.ndarray:
        sol = solve_ivp(
            stacked,
            (0.0, horizon),
            x0.ravel(),
            method=method,
            rtol=tol,
            atol=tol,
            t_eval=times,
        )
        assert sol.success, sol.message
        return sol.y.T.reshape(times.size, n, 3)

    t0 = time.perf_counter()
    ref = ivp("DOP853", 1e-12)
    print(
        f"\n== {n} scenario{'s' * (n > 1)}, {horizon:.0f} s, rows every {every:.0f} s; "
        f"reference DOP853 rtol=atol=1e-12 in {time.perf_counter() - t0:.1f} s"
    )
    # name -> (run, rounds, time scale, note); rounds run interleaved, one of each in turn,
    # so that the load of the shared machine falls on every contender alike
    runs: dict[str, tuple[Callable[[], np.ndarray], int, float, str]] = {}
    for tol in (1e-6, 1e-8, 1e-10):
        runs[f"twinql dopri5 rtol=atol={tol:g}"] = (
            functools.partial(
                lambda tol, x0, p: (
                    dopri5(
                        pump,
                        x0,
                        horizon_s=horizon,
                        output_every_s=every,
                        inputs=inputs,
                        params=p,
                        rtol=tol,
                        atol=tol,
                    ).states
                ),
                tol,
                x0,
                p,
            ),
            args.rounds,
            1.0,
            "",
        )
    runs["twinql rk4 compiled dt=10 ms"] = (
        functools.partial(
            lambda x0, p: (
                rk4(
                    pump,
                    x0,
                    horizon_s=horizon,
                    dt=DT,
                    inputs=inputs,
                    params=p,
                    record_every=round(every / DT),
                ).states
            ),
            x0,
            p,
        ),
        1 if n > 1 else args.rounds,
        1.0,
        "(previous default; 1 round)" if n > 1 else "(previous default)",
    )
    for tol in (1e-6, 1e-9):
        runs[f"scipy RK45 stacked rtol=atol={tol:g}"] = (
            functools.partial(ivp, "RK45", tol),
            args.rounds,
            1.0,
            "",
        )
    sample = min(n, args.lsoda_sample)
    consts = model_constants(pump, p)

    def lsoda(tol: float) -> np.ndarray:
        out = (
            ref.copy()
        )  # scenarios beyond the sample keep the reference: the error is the sample's
        for b in range(sample):
            cb = consts[b] if consts.shape[0] > 1 else consts[0]

            def f(t: float, y: np.ndarray, cb: np.ndarray = cb) -> np.ndarray:
                dx = np.empty(3)
                kern(t, y, u_at(t), cb, dx)
                return dx

            sol = solve_ivp(
                f, (0.0, horizon), x0[b], method="LSODA", rtol=tol, atol=tol, t_eval=times
            )
            out[:, b] = sol.y.T
        return out

    for tol in (1e-6, 1e-9):
        runs[f"scipy LSODA per scenario rtol=atol={tol:g}"] = (
            functools.partial(lsoda, tol),
            args.rounds,
            n / sample,
            f"(EXTRAPOLATED from {sample} scenarios x{n / sample:g})" if sample < n else "",
        )
    walls: dict[str, list[float]] = {k: [] for k in runs}
    cpus: dict[str, list[float]] = {k: [] for k in runs}
    errors: dict[str, float] = {}
    # a run shorter than 0.2 s repeats within its round (mean per call), so that one
    # preemption of a millisecond run does not make its round; the first round, which
    # finds the repeat count, then counts as warm-up
    reps = {k: 1 for k in runs}
    for r in range(max(v[1] for v in runs.values()) + 1):
        for name, (fn, rounds, scale, _) in runs.items():
            if r > rounds or (r == rounds and len(walls[name]) == rounds):
                continue
            w0, c0 = time.perf_counter(), time.process_time()
            for _ in range(reps[name]):
                got = fn()
            wall = (time.perf_counter() - w0) / reps[name]
            cpu = (time.process_time() - c0) / reps[name]
            if r == 0 and wall < 0.2:
                reps[name] = max(1, round(0.2 / max(wall, 1e-6)))
                continue  # warm-up round
            walls[name].append(wall * scale)
            cpus[name].append(cpu * scale)
            errors[name] = _error(got, ref)
    med = {k: statistics.median(v) for k, v in walls.items()}
    low = {k: min(v) for k, v in walls.items()}
    for name, (_, _, _, note) in runs.items():
        print(
            f"  {name:40s} wall min {low[name] * 1e3:9.2f} ms  median {med[name] * 1e3:9.2f} ms"
            f"  CPU median {statistics.median(cpus[name]) * 1e3:9.2f} ms"
            f"  error {errors[name]:.1e}  {note}"
        )
    ours = [k for k in runs if k.startswith("twinql dopri5")]
    print("  at equal or better accuracy (twinql's fastest dopri5 run with error <= scipy's):")
    for name in runs:
        if not name.startswith("scipy"):
            continue
        fit = [o for o in ours if errors[o] <= errors[name]]
        if not fit:
            print(f"    {name:40s} no twinql run as accurate ({errors[name]:.1e})")
            continue
        best = min(fit, key=lambda o: med[o])
        print(
            f"    {name:40s} {med[name] * 1e3:9.2f} ms vs {best} {med[best] * 1e3:9.2f} ms"
            f" (medians): twinql {med[name] / med[best]:6.1f}x faster"
            f" (mins: {low[name] / low[best]:.1f}x)"
        )
    best_scipy = min((k for k in runs if k.startswith("scipy")), key=lambda k: med[k])
    print(f"  best scipy here: {best_scipy}, {med[best_scipy] * 1e3:.2f} ms (median)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the hour everywhere")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--part", choices=("all", "adaptive", "rk4"), default="all")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lsoda-sample", type=int, default=50, help="scenarios LSODA runs")
    args = parser.parse_args()
    if args.part in ("all", "adaptive"):
        adaptive(args)
    if args.part in ("all", "rk4"):
        fixed_step(args)


def fixed_step(args: argparse.Namespace) -> None:
    pump = get_model("pump")
    horizon = HOUR / 10 if args.quick else HOUR
    steps = round(horizon / DT)
    start = {"speed_rpm": 2500.0, "flow_m3h": 120.0, "bearing_temp_c": 40.0}
    inputs = {
        "speed_setpoint_rpm": 2900.0,
        "inlet_pressure_bar": InputSeries.ramp(1.0, 0.8, HOUR),
    }
    vector = pump.param_vector({"wear": 0.3})
    params = {k: float(v) for k, v in zip(pump.param_names, vector, strict=True)}
    print(f"pump model, dt = {DT * 1000:.0f} ms, horizon {horizon:.0f} s = {steps:,} steps")

    # -- baseline: a fraction of the run, extrapolated --------------------------------
    base_steps = steps // 20
    t0 = time.perf_counter()
    base_x = baseline_rk4(dict(start), params, base_steps)
    base_s = time.perf_counter() - t0
    base_rate = base_steps / base_s
    print(
        f"baseline dict-of-floats RK4: timed {base_steps:,} steps "
        f"({base_steps * DT:.0f} s simulated) in {base_s:.2f} s -> {base_rate:,.0f} steps/s; "
        f"EXTRAPOLATED to the full run: {steps / base_rate:.1f} s"
    )
    check = rk4(
        pump,
        pump.state_vector(start),
        horizon_s=base_steps * DT,
        dt=DT,
        inputs=inputs,
        params=pump.param_vector({"wear": 0.3}),
        record_every=base_steps,
        path="vector",
    )
    diff = max(abs(check.states[-1, 0, j] - base_x[n]) for j, n in enumerate(pump.state_names))
    print(
        f"  vectorised engine vs baseline after {base_steps:,} steps: max state difference {diff:.2e}"
    )

    # -- compiled path: compile (or load numba's on-disk cache) once ------------------
    print(
        f"compiled path: kernel + loop compile/cache load {warm_up(pump):.2f} s (once per process)"
    )
    p1 = pump.param_vector({"wear": 0.3})
    x1 = pump.state_vector(start)
    single: dict[str, object] = {}
    for path in ("compiled", "vector"):
        t0 = time.perf_counter()
        run = rk4(
            pump,
            x1,
            horizon_s=horizon,
            dt=DT,
            inputs=inputs,
            params=p1,
            record_every=100,
            path=path,
        )
        took = time.perf_counter() - t0
        rate = steps / took
        single[path] = run
        print(
            f"{path:8s} path, 1 scenario:     {took:6.2f} s  {rate:12,.0f} steps/s   "
            f"ratio to baseline {rate / base_rate:7.2f}x  "
            f"(final flow {run.output('flow_m3h')[-1, 0]:.3f} m3/h)"
        )
    gap1 = np.max(np.abs(single["compiled"].outputs - single["vector"].outputs))  # type: ignore[attr-defined]
    print(f"  compiled vs vectorised, 1 scenario: max output difference {gap1:.1e}")
    rss_single = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # -- adaptive (LSODA), one scenario ----------------------------------------------
    t0 = time.perf_counter()
    adaptive = solve_adaptive(
        pump,
        x1,
        horizon_s=horizon,
        output_every_s=1.0,
        inputs=inputs,
        params=p1,
        rtol=1e-8,
        atol=1e-8,
    )
    adaptive_s = time.perf_counter() - t0
    gap = np.nanmax(np.abs(adaptive.outputs[:, 0] - single["compiled"].outputs[:, 0]))  # type: ignore[attr-defined]
    print(
        f"adaptive LSODA, 1 scenario, same horizon: {adaptive_s:5.2f} s, "
        f"{adaptive.steps:,} derivative calls, {steps / base_rate / adaptive_s:5.1f}x faster "
        f"than the extrapolated baseline (max output gap to fixed-step {gap:.1e})"
    )

    # -- scenario-steps/s by batch size, both paths (1/100 hour) ---------------------
    for path in ("compiled", "vector"):
        sizes = []
        for size in (1, 4, 16, 64, 256):
            xs = np.repeat(x1[None], size, axis=0)
            t0 = time.perf_counter()
            rk4(
                pump,
                xs,
                horizon_s=horizon / 100,
                dt=DT,
                inputs=inputs,
                params=p1,
                record_every=100,
                path=path,
            )
            rate = size * steps / 100 / (time.perf_counter() - t0)
            sizes.append(f"{size}: {rate / base_rate:.1f}x")
        print(f"{path:8s} / baseline by batch size (scenario-steps/s): " + ", ".join(sizes))

    # -- a batch of n scenarios, both paths --------------------------------------------
    n = args.batch
    rng = np.random.default_rng(1)
    pb = np.repeat(p1[None], n, axis=0)
    pb[:, pump.param_names.index("wear")] = rng.uniform(0.0, 0.6, n)
    xb = np.repeat(x1[None], n, axis=0)
    finals = {}
    for path in ("compiled", "vector"):
        t0 = time.perf_counter()
        batch = rk4(
            pump,
            xb,
            horizon_s=horizon,
            dt=DT,
            inputs=inputs,
            params=pb,
            record_every=1000,
            path=path,
        )
        batch_s = time.perf_counter() - t0
        batch_rate = n * steps / batch_s
        final = batch.output("flow_m3h")[-1]
        finals[path] = batch.outputs
        print(
            f"{path:8s} path, {n} scenarios: {batch_s:6.1f} s  {batch_rate:12,.0f} "
            f"scenario-steps/s   ratio to baseline {batch_rate / base_rate:6.1f}x  "
            f"(final flow p5..p95 {np.percentile(final, 5):.1f}..{np.percentile(final, 95):.1f})"
        )
    print(
        f"  compiled vs vectorised, {n} scenarios: max output difference "
        f"{np.max(np.abs(finals['compiled'] - finals['vector'])):.1e}"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # -- memory of a batch run, traced on 1/100 of the hour (tracing slows numpy) -----
    tracemalloc.start()
    rk4(pump, xb, horizon_s=horizon / 100, dt=DT, inputs=inputs, params=pb, record_every=1000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    recorded = batch.states.nbytes + batch.outputs.nbytes
    print(
        f"peak RSS: {rss_single:.0f} MiB after the single run, {rss:.0f} MiB after the batch; "
        f"batch records {recorded / 2**20:.1f} MiB (every 10 s); "
        f"traced peak of a {n}-scenario run's working set: {peak / 2**20:.1f} MiB"
    )


if __name__ == "__main__":
    main()
