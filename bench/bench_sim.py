"""Benchmark: one simulated hour of the pump at 10 ms steps (360,000 RK4 steps).

Compares both paths of the engine (``sim.rk4``): the compiled scalar kernel
(``path="compiled"``, numba, the default) and the vectorised numpy path
(``path="vector"``), for one scenario and for a batch of 1,000 scenarios, with the
straightforward RK4 they replace: state as a dict of Python floats, new dicts at every
stage, a Python loop per step. The baseline runs a fraction of the hour and is
extrapolated (said so in the output). The compiled path's one-off compile (or numba
cache load) time is printed separately and excluded from its rate. Inputs follow the issue's what-if: speed set to
2,900 rpm from 2,500, inlet pressure ramping down 20 % over the hour.

    python bench/bench_sim.py [--quick]
"""

from __future__ import annotations

import argparse
import math
import resource
import time
import tracemalloc

import numpy as np

from sim import InputSeries, get_model, rk4, solve_adaptive
from sim.fastpath import warm_up

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a tenth of the hour everywhere")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
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
