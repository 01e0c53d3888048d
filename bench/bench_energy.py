"""Benchmark: HVAC setpoint optimisation (``analytics.energy``) for 1 and 10 zones.

A summer office day (outdoor 20..32 degC, sun, 30 people 08:00-18:00, comfort band
21-24 degC, setback 16-28 degC), 24 h at 15 min, under two price curves: a peak
(0.60 per kWh 12:00-18:00, 0.10 otherwise) and a flat 0.20. For each case it prints,
from the closed-loop simulations through ``sim``'s ``hvac_zone`` model:

* the optimised schedule's and the baseline's (fixed occupied/unoccupied schedule)
  electric energy, cost and occupied degree-hours outside the band, side by side, and
  the saving;
* the time of ``optimize_energy`` (LP per zone + both simulations), of
  ``plan_setpoints`` (the LPs alone) and, measured in the same run, of one closed-loop
  simulation alone (the baseline's schedule).

Then, for one zone and the peak price, reference optimisers over 24 hourly cooling
setpoints with a comfort penalty, their objective the same thermostat and model
(discretised, numpy): SLSQP (finite-difference gradients) from the baseline's setpoints
and from mid-band, and Powell (derivative-free); each schedule is judged by the same
closed-loop simulation. They show what the LP is chosen over.

    python bench/bench_energy.py
"""

from __future__ import annotations

import time

import numpy as np
from scipy.optimize import minimize

from analytics.energy import EnergyProblem, baseline_setpoints, optimize_energy, plan_setpoints
from analytics.schedule import Zone, discretise, simulate_schedule

N = 96
HOURS = np.arange(N) * 0.25
OUTDOOR = 26.0 + 6.0 * np.sin(2 * np.pi * (HOURS - 9.0) / 24.0)
SUN = np.maximum(0.0, 600.0 * np.sin(np.pi * (HOURS - 6.0) / 12.0))
OFFICE = np.where((HOURS >= 8) & (HOURS < 18), 30.0, 0.0)
PRICES = {
    "peak": np.where((HOURS >= 12) & (HOURS < 18), 0.60, 0.10),
    "flat": np.full(N, 0.20),
}


def zones(n: int) -> list[Zone]:
    if n == 1:
        return [Zone("z0", initial_temp_c=25.0)]
    rng = np.random.default_rng(7)
    return [
        Zone(
            f"z{i}",
            {
                "window_area_m2": float(rng.uniform(20, 80)),
                "mass_capacitance_kj_per_k": float(rng.uniform(30_000, 90_000)),
                "r_air_out_k_per_kw": float(rng.uniform(1.5, 3.0)),
            },
            cooling_kw=float(rng.uniform(25, 45)),
            initial_temp_c=float(rng.uniform(24, 26)),
        )
        for i in range(n)
    ]


def problem(price: np.ndarray, zs: list[Zone]) -> EnergyProblem:
    occ = np.outer(OFFICE, np.linspace(1.0, 0.5, len(zs)))  # fuller to emptier zones
    return EnergyProblem(
        zones=zs, price=price, outdoor_temp_c=OUTDOOR, occupancy=occ, solar_w_m2=SUN
    )


def search_reference(
    p: EnergyProblem, method: str, start_c: float | None
) -> tuple[float, float, float, int, str]:
    """``method`` over hourly cooling setpoints (one zone), from the baseline's setpoints
    (``start_c`` None) or a constant; returns cost, comfort, seconds, evaluations, message."""
    zone = p.zones[0]
    ad, bd = discretise(zone.param_vector()[None], p.step_s)
    cond = p.conditions
    heat0, cool0 = baseline_setpoints(p)
    occupied = cond.occupied[:, 0]
    lo, hi = p.comfort_c
    weight = p.weight()
    evals = 0

    def run(hourly: np.ndarray) -> float:
        nonlocal evals
        evals += 1
        cool = np.repeat(hourly, 4)
        x = np.array([zone.initial_temp_c, zone.initial_mass_temp])
        cost = comfort = 0.0
        for k in range(N):
            u = cond.inputs(k, np.zeros(1))[0]
            free = ad[0, 0] @ x + bd[0, 0] @ u
            q = 0.0 if free <= cool[k] else max((cool[k] - free) / bd[0, 0, 3], -zone.cooling_kw)
            u[3] = q
            x = ad[0] @ x + bd[0] @ u
            cost += cond.price[k, 0] * -q / zone.cop_cooling * 0.25
            if occupied[k]:
                comfort += (max(lo - x[0], 0.0) + max(x[0] - hi, 0.0)) * 0.25
        return cost + weight * comfort

    t0 = time.perf_counter()
    start = cool0[::4, 0].astype(float) if start_c is None else np.full(24, start_c)
    res = minimize(run, start, method=method, bounds=[(lo, p.setback_c[1])] * 24)
    elapsed = time.perf_counter() - t0
    cool = np.repeat(res.x, 4)[:, None]
    sim = simulate_schedule([zone], cond, np.minimum(heat0, cool), cool, p.comfort_c)
    return sim.total_cost, sim.total_comfort_kh, elapsed, evals, str(res.message)


def main() -> None:
    optimize_energy(problem(PRICES["flat"], zones(1)))  # imports and first calls warm
    print(
        f"{'case':<12}{'zones':>6}{'opt s':>8}{'LP s':>8}{'sim s':>8}{'kWh opt':>9}{'kWh base':>9}"
        f"{'cost opt':>10}{'cost base':>10}{'saving':>8}{'K h opt':>9}{'K h base':>9}"
        f"{'max K':>7}  status"
    )
    for name, price in PRICES.items():
        for n in (1, 10):
            p = problem(price, zones(n))
            t0 = time.perf_counter()
            r = optimize_energy(p)
            t_opt = time.perf_counter() - t0
            t0 = time.perf_counter()
            plan_setpoints(p)
            t_lp = time.perf_counter() - t0
            heat, cool = baseline_setpoints(p)
            t0 = time.perf_counter()
            simulate_schedule(list(p.zones), p.conditions, heat, cool, p.comfort_c)
            t_sim = time.perf_counter() - t0
            print(
                f"{name:<12}{n:>6}{t_opt:>8.3f}{t_lp:>8.3f}{t_sim:>8.3f}{r.energy_kwh:>9.1f}"
                f"{r.baseline_energy_kwh:>9.1f}{r.cost:>10.2f}{r.baseline_cost:>10.2f}"
                f"{100 * r.savings_share:>7.1f}%{r.comfort_kh:>9.4f}"
                f"{r.baseline_comfort_kh:>9.4f}{float(r.optimised.max_excursion_k.max()):>7.3f}"
                f"  {r.solver_status}"
            )
    p = problem(PRICES["peak"], zones(1))
    r = optimize_energy(p)
    print(
        "\nreference optimisers, 1 zone, peak price (the same closed-loop simulation judges all):"
    )
    print(f"  {'LP, 15 min (this module)':<34} cost {r.cost:7.2f}  K h {r.comfort_kh:.4f}")
    refs = (("SLSQP", None), ("SLSQP", 22.5), ("Powell", None))
    for method, start_c in refs:
        cost, comfort, elapsed, evals, msg = search_reference(p, method, start_c)
        label = f"{method}, hourly, from {'baseline' if start_c is None else start_c}"
        print(
            f"  {label:<34} cost {cost:7.2f}  K h {comfort:.4f}  {elapsed:6.2f} s, "
            f"{evals} simulations ({msg})"
        )
    print(f"  {'baseline':<34} cost {r.baseline_cost:7.2f}  K h {r.baseline_comfort_kh:.4f}")


if __name__ == "__main__":
    main()
