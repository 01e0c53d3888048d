"""Building energy: HVAC zone setpoints over a horizon, optimised for a price curve.

Contract: ``optimize_energy(EnergyProblem) -> EnergySchedule`` (``plan_setpoints`` is\nits optimisation alone, without the simulations). The problem gives the
zones (``analytics.schedule.Zone``), a price per kWh, the outdoor temperature, the solar
irradiance and the occupancy per step (default 96 steps of 15 min: 24 h), the comfort band
that must hold while a zone is occupied and the setback band otherwise. The answer gives
a heating and a cooling setpoint per zone and step, and two closed-loop simulations
through ``sim``'s ``hvac_zone`` model (``analytics.schedule.simulate_schedule``): the
optimised schedule and a baseline, with energy, cost, comfort degree-hours and savings
all read off those simulations, never assumed.

**Method: a linear programme, and why.** The zone model is linear in its state and in
the HVAC heat ``Q`` (``x(k+1) = Ad x(k) + Bd u(k)``, exact for inputs held over a step),
so the air temperature at every step end is affine in the heat of the steps before it:
``T = f + G Q`` (``f`` the free response to weather, people and sun, ``G`` the
lower-triangular impulse response). With ``Q = Qh - Qc`` (heating, cooling, each
``>= 0`` and capped by the plant's capacity) the electricity cost
``sum price * dt * (Qh / COP_h + Qc / COP_c)`` is linear, and the band ``lo <= T <= hi``
is linear too, softened by a slack ``s >= 0`` priced at ``comfort_weight`` per K h (by
default 100 times the highest energy price, so the band holds wherever the plant can
hold it). That LP is the exact problem on this model, its optimum is global, and
HiGHS (``scipy.optimize.linprog``) solves a zone's 24 h at 15 min in well under a
second (``bench/bench_energy.py``). A
search over setpoints (SLSQP, L-BFGS-B) would see a non-smooth objective (the
thermostat's deadband and the capacity clip) through finite-difference gradients, at
one simulation per variable per iteration. Zones do not interact, so each zone is its
own LP.

The LP's temperatures at step ends are turned into setpoints the simulated thermostat
follows: where the LP cools, the cooling setpoint is the temperature it cools to (below
the band's top when it pre-cools); where it heats, the heating setpoint likewise; where
it floats, the step's band. The band the LP keeps at a step end is the tighter of the
bands of the two steps it joins (the zone is in band when occupancy starts), narrowed by
``band_margin_k`` on each side, so that what happens inside a step (the simulation
records every minute) stays in band too.

**Baseline**: a fixed occupied/unoccupied schedule, as a building-management system
runs: from ``baseline_prestart_s`` before each occupied step until the end of it, the
setpoints ``baseline_occupied_c`` (default: the comfort band's edges, i.e. heat to its
bottom and cool to its top, the cheapest fixed schedule that keeps the band), else the
setback band. Under a flat price the optimum has nothing to shift, so its saving over
this baseline is small; under a price peak it pre-cools (or pre-heats) the building
mass in the cheap hours.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.optimize import linprog

from analytics.schedule import (
    SimulatedSchedule,
    Zone,
    ZoneConditions,
    discretise,
    simulate_schedule,
)
from graph.errors import ValidationError

__all__ = [
    "EnergyProblem",
    "EnergySchedule",
    "Plan",
    "baseline_setpoints",
    "optimize_energy",
    "plan_setpoints",
]

MAX_ZONES = 1_000
MAX_STEPS = 672  # a week at 15 min: the LP's matrix is dense, 2n x 3n per zone
_ACTIVE_KW = 1e-6  # LP heat below this is "off"


def _band(value: tuple[float, float], what: str) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValidationError(f"{what} must be finite", path=what)
    if lo > hi:
        raise ValidationError(f"{what} is inverted: low {lo} above high {hi}", path=what)
    return lo, hi


@dataclass(frozen=True, slots=True, eq=False)
class EnergyProblem:
    """Zones, and per step of ``step_s`` over ``horizon_s``: the price (per kWh), the
    outdoor temperature, occupancy (people; shared or one column per zone) and the solar
    irradiance (W/m2, default none). Bands in degC as ``(low, high)``."""

    zones: Sequence[Zone]
    price: npt.ArrayLike
    outdoor_temp_c: npt.ArrayLike
    occupancy: npt.ArrayLike
    solar_w_m2: npt.ArrayLike | None = None
    horizon_s: float = 86_400.0
    step_s: float = 900.0
    comfort_c: tuple[float, float] = (21.0, 24.0)
    setback_c: tuple[float, float] = (16.0, 28.0)
    baseline_occupied_c: tuple[float, float] | None = None
    baseline_prestart_s: float = 3600.0
    comfort_weight: float | None = None
    band_margin_k: float = 0.1
    conditions: ZoneConditions = field(init=False, repr=False)

    def __post_init__(self) -> None:
        zones = tuple(self.zones)
        object.__setattr__(self, "zones", zones)
        if not 1 <= len(zones) <= MAX_ZONES:
            raise ValidationError(f"give 1..{MAX_ZONES} zones, got {len(zones)}", path="zones")
        if not all(isinstance(z, Zone) for z in zones):
            raise ValidationError("zones must be Zone values", path="zones")
        if len({z.zone_id for z in zones}) != len(zones):
            raise ValidationError("zone ids must be unique", path="zones")
        for what in ("horizon_s", "step_s"):
            v = getattr(self, what)
            if isinstance(v, bool) or not (math.isfinite(v) and v > 0):
                raise ValidationError(f"{what} must be a positive number", path=what)
        n = round(self.horizon_s / self.step_s)
        if abs(n * self.step_s - self.horizon_s) > 1e-6 * self.horizon_s or n < 1:
            raise ValidationError("horizon_s must be a whole number of steps", path="horizon_s")
        if n > MAX_STEPS:
            raise ValidationError(f"{n} steps, more than {MAX_STEPS}", path="step_s")
        lo, hi = _band(self.comfort_c, "comfort_c")
        slo, shi = _band(self.setback_c, "setback_c")
        if not (slo <= lo and hi <= shi):
            raise ValidationError(
                "the setback band must contain the comfort band", path="setback_c"
            )
        if self.baseline_occupied_c is not None:
            _band(self.baseline_occupied_c, "baseline_occupied_c")
        if not (math.isfinite(self.baseline_prestart_s) and self.baseline_prestart_s >= 0):
            raise ValidationError("baseline_prestart_s must be >= 0", path="baseline_prestart_s")
        if self.comfort_weight is not None and not (
            math.isfinite(self.comfort_weight) and self.comfort_weight > 0
        ):
            raise ValidationError("comfort_weight must be positive", path="comfort_weight")
        if not (math.isfinite(self.band_margin_k) and 0 <= 2 * self.band_margin_k < hi - lo):
            raise ValidationError(
                "band_margin_k must be >= 0 and leave part of the comfort band",
                path="band_margin_k",
            )
        conditions = ZoneConditions.build(
            zones=len(zones),
            n_steps=n,
            step_s=self.step_s,
            price=np.asarray(self.price, dtype=float),
            outdoor_temp_c=np.asarray(self.outdoor_temp_c, dtype=float),
            occupancy=np.asarray(self.occupancy, dtype=float),
            solar_w_m2=None if self.solar_w_m2 is None else np.asarray(self.solar_w_m2, float),
        )
        object.__setattr__(self, "conditions", conditions)

    @property
    def n_steps(self) -> int:
        return self.conditions.n_steps

    def bands(self) -> tuple[np.ndarray, np.ndarray]:
        """Per step and zone ``(n, Z)``: the band that must hold (comfort when occupied)."""
        occ = self.conditions.occupied
        lo = np.where(occ, self.comfort_c[0], self.setback_c[0])
        hi = np.where(occ, self.comfort_c[1], self.setback_c[1])
        return lo, hi

    def weight(self) -> float:
        if self.comfort_weight is not None:
            return float(self.comfort_weight)
        top = float(self.conditions.price.max())
        return 100.0 * top if top > 0 else 1.0


@dataclass(frozen=True, slots=True, eq=False)
class EnergySchedule:
    """The optimised setpoints per step (``times_s``: step starts) and zone, both
    simulations, and the figures read off them (totals over the zones). ``savings`` is
    the baseline's cost minus the optimised one's (``savings_share`` of the baseline's);
    comfort in occupied K h outside the band. ``predicted_cost`` is the LP's own cost
    (the model at step ends); ``solver_status`` is ``"optimal"`` when every zone's LP
    was solved to optimality, else the first zone's failure, with ``solver_message``."""

    zone_ids: tuple[str, ...]
    times_s: np.ndarray
    heating_c: np.ndarray
    cooling_c: np.ndarray
    optimised: SimulatedSchedule
    baseline: SimulatedSchedule
    predicted_cost: float
    solver_status: str
    solver_message: str
    energy_kwh: float = field(init=False)
    baseline_energy_kwh: float = field(init=False)
    cost: float = field(init=False)
    baseline_cost: float = field(init=False)
    savings: float = field(init=False)
    savings_share: float = field(init=False)
    comfort_kh: float = field(init=False)
    baseline_comfort_kh: float = field(init=False)

    def __post_init__(self) -> None:
        opt, base = self.optimised, self.baseline
        figures = {
            "energy_kwh": opt.total_energy_kwh,
            "baseline_energy_kwh": base.total_energy_kwh,
            "cost": opt.total_cost,
            "baseline_cost": base.total_cost,
            "savings": base.total_cost - opt.total_cost,
            "savings_share": (
                (base.total_cost - opt.total_cost) / base.total_cost if base.total_cost > 0 else 0.0
            ),
            "comfort_kh": opt.total_comfort_kh,
            "baseline_comfort_kh": base.total_comfort_kh,
        }
        for name, value in figures.items():
            object.__setattr__(self, name, float(value))


def baseline_setpoints(problem: EnergyProblem) -> tuple[np.ndarray, np.ndarray]:
    """The fixed occupied/unoccupied schedule's heating and cooling setpoints ``(n, Z)``."""
    occ = problem.conditions.occupied
    ahead = math.ceil(problem.baseline_prestart_s / problem.step_s - 1e-9)
    on = occ.copy()
    for shift in range(1, ahead + 1):  # occupied within the pre-start: conditioning on
        on[:-shift] |= occ[shift:]
    lo, hi = problem.baseline_occupied_c or problem.comfort_c
    heat = np.where(on, lo, problem.setback_c[0])
    cool = np.where(on, hi, problem.setback_c[1])
    return heat, cool


def _responses(
    problem: EnergyProblem, ad: np.ndarray, bd: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Free air temperature at step ends ``(Z, n)``, impulse responses ``(Z, n)``."""
    cond, zones, n = problem.conditions, problem.zones, problem.n_steps
    x = np.array([[z.initial_temp_c, z.initial_mass_temp] for z in zones])
    free = np.empty((len(zones), n))
    for k in range(n):
        u = cond.inputs(k, np.zeros(len(zones)))
        x = np.einsum("zij,zj->zi", ad, x) + np.einsum("zij,zj->zi", bd, u)
        free[:, k] = x[:, 0]
    impulse = np.empty((len(zones), n))
    v = bd[:, :, 3]
    for m in range(n):
        impulse[:, m] = v[:, 0]
        v = np.einsum("zij,zj->zi", ad, v)
    return free, impulse


def _lp_band(problem: EnergyProblem) -> tuple[np.ndarray, np.ndarray]:
    """The band at each step end (the tighter of the two steps it joins), narrowed."""
    lo, hi = problem.bands()
    lo_end, hi_end = lo.copy(), hi.copy()
    lo_end[:-1] = np.maximum(lo[:-1], lo[1:])
    hi_end[:-1] = np.minimum(hi[:-1], hi[1:])
    m = problem.band_margin_k
    return lo_end + m, hi_end - m


def _toeplitz(impulse: np.ndarray) -> np.ndarray:
    """``G[k, j]``: the air temperature at the end of step ``k`` per kW held in step ``j``."""
    n = impulse.size
    lag = np.arange(n)[:, None] - np.arange(n)[None, :]
    return np.where(lag >= 0, impulse[np.clip(lag, 0, n - 1)], 0.0)


def _solve_zone(
    zone: Zone,
    price: np.ndarray,
    free: np.ndarray,
    g: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    step_h: float,
    weight: float,
) -> tuple[np.ndarray, float, int, str]:
    """One zone's LP over ``[Qh, Qc, s]``: heat (kW) per step and the LP's energy cost."""
    n = free.size
    eye = np.eye(n)
    a_ub = np.block([[g, -g, -eye], [-g, g, -eye]])
    b_ub = np.concatenate([hi - free, free - lo])
    energy_cost = np.concatenate([price / zone.cop_heating, price / zone.cop_cooling]) * step_h
    c = np.concatenate([energy_cost, np.full(n, weight * step_h)])
    bounds = [(0.0, zone.heating_kw)] * n + [(0.0, zone.cooling_kw)] * n + [(0.0, None)] * n
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
    if res.x is None:
        return np.zeros(n), math.nan, int(res.status), str(res.message)
    q = res.x[:n] - res.x[n : 2 * n]
    return q, float(energy_cost @ res.x[: 2 * n]), int(res.status), str(res.message)


def _setpoints(
    q: np.ndarray, temps: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Setpoints that make the thermostat follow the LP: per step, cool to the LP's
    temperature where it cools, heat to it where it heats, else float within the band."""
    cooling = q < -_ACTIVE_KW
    heating = q > _ACTIVE_KW
    cool = np.where(cooling, np.minimum(temps, hi), hi)
    heat = np.where(heating, np.maximum(temps, lo), np.minimum(lo, cool))
    cool = np.maximum(cool, heat)
    return heat, cool


@dataclass(frozen=True, slots=True, eq=False)
class Plan:
    """The LP's answer before any simulation: setpoints ``(n, Z)``, its energy cost."""

    heating_c: np.ndarray
    cooling_c: np.ndarray
    predicted_cost: float
    solver_status: str
    solver_message: str


def plan_setpoints(problem: EnergyProblem, progress: Callable[[float], None] | None = None) -> Plan:
    """Solve each zone's LP and turn its temperatures into setpoints (no simulation);
    ``progress`` hears the share of zones solved after each."""
    cond, zones, n = problem.conditions, list(problem.zones), problem.n_steps
    params = np.stack([z.param_vector() for z in zones])
    ad, bd = discretise(params, problem.step_s)
    free, impulse = _responses(problem, ad, bd)
    lp_lo, lp_hi = _lp_band(problem)
    lo, hi = problem.bands()
    heat = np.empty((n, len(zones)))
    cool = np.empty((n, len(zones)))
    predicted = 0.0
    status, message = "optimal", "every zone solved to optimality"
    weight, step_h = problem.weight(), problem.step_s / 3600.0
    for j, zone in enumerate(zones):
        g = _toeplitz(impulse[j])
        q, cost, code, msg = _solve_zone(
            zone, cond.price[:, j], free[j], g, lp_lo[:, j], lp_hi[:, j], step_h, weight
        )
        if code != 0 and status == "optimal":
            status, message = f"failed ({zone.zone_id}, code {code})", msg
        predicted += cost
        temps = free[j] + g @ q
        heat[:, j], cool[:, j] = _setpoints(q, temps, lo[:, j], hi[:, j])
        if progress is not None:
            progress((j + 1) / len(zones))
    for a in (heat, cool):
        a.flags.writeable = False
    return Plan(heat, cool, predicted, status, message)


def optimize_energy(
    problem: EnergyProblem, progress: Callable[[float], None] | None = None
) -> EnergySchedule:
    """Optimise the setpoints, then simulate them and the baseline through the model.
    ``progress`` (optional) hears the fraction done: the linear programmes take the
    first 80 %, each simulation 10 %; it may raise to stop the work (a job's cancel)."""
    zones, cond = list(problem.zones), problem.conditions
    tell = progress or (lambda f: None)
    plan = plan_setpoints(problem, lambda f: tell(0.8 * f))
    base_heat, base_cool = baseline_setpoints(problem)
    optimised = simulate_schedule(zones, cond, plan.heating_c, plan.cooling_c, problem.comfort_c)
    tell(0.9)
    baseline = simulate_schedule(zones, cond, base_heat, base_cool, problem.comfort_c)
    tell(1.0)
    return EnergySchedule(
        zone_ids=tuple(z.zone_id for z in zones),
        times_s=np.arange(problem.n_steps) * problem.step_s,
        heating_c=plan.heating_c,
        cooling_c=plan.cooling_c,
        optimised=optimised,
        baseline=baseline,
        predicted_cost=plan.predicted_cost,
        solver_status=plan.solver_status,
        solver_message=plan.solver_message,
    )
