"""A zone setpoint schedule, simulated in closed loop through the ``hvac_zone`` model.

Contract: ``simulate_schedule(zones, conditions, heating_c, cooling_c)`` runs every zone
under a dual-setpoint schedule (a heating and a cooling setpoint per step) and returns
what it cost and how comfortable it was, all from the simulation:

- **The plant** is ``sim``'s ``hvac_zone`` model (2R2C, ``sim/models/hvac.py``), one
  scenario per zone, stepped by ``sim.rk4`` (60 s steps, every step recorded).
- **The controller** is an ideal-load thermostat, as in building-energy tools (EnergyPlus
  "ideal loads" with a dual-setpoint thermostat): at the start of each schedule step it
  reads the simulated state and picks the constant HVAC power that brings the zone air to
  the nearer setpoint by the end of the step, no power when the air would float within
  ``[heating, cooling]``, clipped to the zone's heating and cooling capacity. The power it
  needs comes from the zone's exact discretisation (``discretise``: the model is linear,
  so ``x(k+1) = Ad x(k) + Bd u(k)`` holds exactly for inputs held over a step).
- **Energy** is electric: heating power / heating COP plus cooling power / cooling COP,
  times the step; **cost** is energy times the step's price.
- **Comfort cost** is the degree-hours (K h) the zone air spends outside the comfort band
  during occupied steps (occupancy > 0), integrated (trapezoid) over the 60 s records,
  so excursions inside a step count, not only the values at step ends.

Inputs are held constant over each step. ``discretise`` reads the model's matrices by
probing its public ``derivatives`` (the model is affine in state and inputs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import expm

from graph.errors import ValidationError
from sim import InputSchedule, get_model, rk4

__all__ = [
    "SUBSTEP_S",
    "SimulatedSchedule",
    "Zone",
    "ZoneConditions",
    "discretise",
    "simulate_schedule",
]

MODEL = "hvac_zone"
SUBSTEP_S = 60.0  # rk4 step and record interval inside a schedule step
_INPUTS = ("outdoor_temp_c", "occupancy", "solar_w_m2", "hvac_power_kw")
_POWER = 3  # column of the HVAC power among _INPUTS


def _finite_positive(value: float, what: str) -> None:
    if isinstance(value, bool) or not (math.isfinite(value) and value > 0):
        raise ValidationError(f"{what} must be a positive number, got {value!r}", path=what)


@dataclass(frozen=True, slots=True)
class Zone:
    """A conditioned zone: ``hvac_zone`` parameter overrides, its HVAC plant (capacity in
    kW of heat, coefficients of performance) and its state at the start of the horizon."""

    zone_id: str
    parameters: Mapping[str, float] = field(default_factory=dict)
    heating_kw: float = 40.0
    cooling_kw: float = 40.0
    cop_heating: float = 3.5
    cop_cooling: float = 3.0
    initial_temp_c: float = 22.0
    initial_mass_temp_c: float | None = None  # None: the air temperature

    def __post_init__(self) -> None:
        if not self.zone_id:
            raise ValidationError("a zone needs an id", path="zone_id")
        object.__setattr__(self, "parameters", dict(self.parameters))
        get_model(MODEL).param_vector(self.parameters)  # names and bounds
        for what in ("heating_kw", "cooling_kw", "cop_heating", "cop_cooling"):
            _finite_positive(getattr(self, what), what)
        temps = (self.initial_temp_c, self.initial_mass_temp)
        if not all(math.isfinite(t) and -50 <= t <= 80 for t in temps):
            raise ValidationError("initial temperatures must lie in -50..80 degC")

    @property
    def initial_mass_temp(self) -> float:
        m = self.initial_mass_temp_c
        return self.initial_temp_c if m is None else m

    def param_vector(self) -> np.ndarray:
        return get_model(MODEL).param_vector(self.parameters)


def _series(name: str, value: np.ndarray | None, n: int, zones: int, shared: bool) -> np.ndarray:
    if value is None:
        return np.zeros((n, zones))
    a = np.asarray(value, dtype=float)
    if a.ndim == 1 or (not shared and a.ndim == 2 and a.shape[1] == 1):
        a = a.reshape(-1, 1)
    elif shared or a.ndim != 2 or a.shape[1] != zones:
        what = f"({n},)" if shared else f"({n},) or ({n}, {zones})"
        raise ValidationError(f"{name} must have shape {what}, got {a.shape}", path=name)
    if a.shape[0] != n:
        raise ValidationError(f"{name} has {a.shape[0]} steps, the horizon has {n}", path=name)
    if not np.all(np.isfinite(a)):
        raise ValidationError(f"{name} must be finite", path=name)
    return np.broadcast_to(a, (n, zones)).copy()


@dataclass(frozen=True, slots=True, eq=False)
class ZoneConditions:
    """What the zones see over ``n`` steps of ``step_s``: outdoor temperature and solar
    irradiance (shared), occupancy in people (shared, or one column per zone), the price
    of electricity per kWh. Arrays are stored ``(n, zones)``."""

    step_s: float
    price: np.ndarray
    outdoor_temp_c: np.ndarray
    occupancy: np.ndarray
    solar_w_m2: np.ndarray

    @classmethod
    def build(
        cls,
        *,
        zones: int,
        n_steps: int,
        step_s: float,
        price: np.ndarray,
        outdoor_temp_c: np.ndarray,
        occupancy: np.ndarray,
        solar_w_m2: np.ndarray | None = None,
    ) -> ZoneConditions:
        _finite_positive(step_s, "step_s")
        price_a = _series("price", price, n_steps, zones, True)
        if np.any(price_a < 0):
            raise ValidationError("prices must not be negative", path="price")
        occ = _series("occupancy", occupancy, n_steps, zones, False)
        if np.any(occ < 0):
            raise ValidationError("occupancy must not be negative", path="occupancy")
        solar = _series("solar_w_m2", solar_w_m2, n_steps, zones, True)
        if np.any(solar < 0):
            raise ValidationError("solar irradiance must not be negative", path="solar_w_m2")
        out = _series("outdoor_temp_c", outdoor_temp_c, n_steps, zones, True)
        arrays = (price_a, out, occ, solar)
        for a in arrays:
            a.flags.writeable = False
        return cls(float(step_s), *arrays)

    @property
    def n_steps(self) -> int:
        return int(self.price.shape[0])

    @property
    def occupied(self) -> np.ndarray:
        return self.occupancy > 0

    def inputs(self, k: int, power_kw: np.ndarray) -> np.ndarray:
        """Model inputs of step ``k`` per zone, ``(zones, 4)``, with the given HVAC power."""
        return np.stack(
            [self.outdoor_temp_c[k], self.occupancy[k], self.solar_w_m2[k], power_kw], axis=1
        )


def discretise(params: np.ndarray, step_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact zero-order-hold matrices of the zone model per zone: ``Ad (Z, 2, 2)`` and
    ``Bd (Z, 2, 4)``, so that ``x(k+1) = Ad x(k) + Bd u(k)`` for inputs held over a step.

    ``params`` is ``(Z, n_params)``. The continuous matrices are read off the model's
    ``derivatives`` (affine in ``x`` and ``u``: one probe per column)."""
    model = get_model(MODEL)
    z, ns, ni = params.shape[0], len(model.states), len(model.inputs)
    zero_x, zero_u = np.zeros((z, ns)), np.zeros((z, ni))
    base = model.derivatives(0.0, zero_x, zero_u, params)
    m = np.zeros((z, ns + ni, ns + ni))
    for i in range(ns):
        x = zero_x.copy()
        x[:, i] = 1.0
        m[:, :ns, i] = model.derivatives(0.0, x, zero_u, params) - base
    for j in range(ni):
        u = zero_u.copy()
        u[:, j] = 1.0
        m[:, :ns, ns + j] = model.derivatives(0.0, zero_x, u, params) - base
    if np.any(np.abs(base) > 1e-12):
        raise ValidationError("the zone model has a constant term; it must be linear")
    e = expm(m * step_s)
    return e[:, :ns, :ns], e[:, :ns, ns:]


@dataclass(frozen=True, slots=True, eq=False)
class SimulatedSchedule:
    """One schedule's closed-loop run. Per step ``(n, Z)``: the setpoints, the HVAC heat
    delivered (kW, heating > 0, cooling < 0) and the electric power; per record ``(m, Z)``
    the zone air temperature at ``record_times_s``; per zone ``(Z,)`` the energy (kWh),
    cost, occupied degree-hours outside the comfort band and the largest such excursion."""

    heating_c: np.ndarray
    cooling_c: np.ndarray
    hvac_kw: np.ndarray
    electric_kw: np.ndarray
    record_times_s: np.ndarray
    zone_temp_c: np.ndarray
    energy_kwh: np.ndarray
    cost: np.ndarray
    comfort_kh: np.ndarray
    max_excursion_k: np.ndarray

    @property
    def total_energy_kwh(self) -> float:
        return float(self.energy_kwh.sum())

    @property
    def total_cost(self) -> float:
        return float(self.cost.sum())

    @property
    def total_comfort_kh(self) -> float:
        return float(self.comfort_kh.sum())


def _control(
    a: np.ndarray, b: np.ndarray, heat: np.ndarray, cool: np.ndarray, zones: list[Zone]
) -> np.ndarray:
    """Ideal-load power: reach the nearer setpoint at the step's end, within capacity."""
    heat_max = np.array([z.heating_kw for z in zones])
    cool_max = np.array([z.cooling_kw for z in zones])
    q = np.where(a < heat, (heat - a) / b, np.where(a > cool, (cool - a) / b, 0.0))
    return np.clip(q, -cool_max, heat_max)


def simulate_schedule(
    zones: list[Zone],
    conditions: ZoneConditions,
    heating_c: np.ndarray,
    cooling_c: np.ndarray,
    comfort_c: tuple[float, float],
) -> SimulatedSchedule:
    """Run the zones under the setpoints ``(n, Z)`` through the model, in closed loop."""
    n, z, dt = conditions.n_steps, len(zones), conditions.step_s
    for name, sp in (("heating_c", heating_c), ("cooling_c", cooling_c)):
        if sp.shape != (n, z) or not np.all(np.isfinite(sp)):
            raise ValidationError(f"{name} must be finite, shape {(n, z)}", path=name)
    if np.any(heating_c > cooling_c + 1e-9):
        raise ValidationError("a heating setpoint lies above its cooling setpoint")
    model = get_model(MODEL)
    params = np.stack([zone.param_vector() for zone in zones])
    ad, bd = discretise(params, dt)
    gain = bd[:, 0, _POWER]  # air temperature at the step's end per kW held over it
    x = np.array([[zone.initial_temp_c, zone.initial_mass_temp] for zone in zones])
    sub = max(1, math.ceil(dt / SUBSTEP_S - 1e-9))
    hvac = np.zeros((n, z))
    temps = np.empty((n * sub + 1, z))
    temps[0] = x[:, 0]
    for k in range(n):
        u0 = conditions.inputs(k, np.zeros(z))
        free = np.einsum("zj,zj->z", ad[:, 0], x) + np.einsum("zj,zj->z", bd[:, 0], u0)
        hvac[k] = _control(free, gain, heating_c[k], cooling_c[k], zones)
        u = conditions.inputs(k, hvac[k])
        run = rk4(
            model,
            x,
            horizon_s=dt,
            dt=dt / sub,
            inputs=InputSchedule.build(
                model, [dict(zip(_INPUTS, map(float, row), strict=True)) for row in u]
            ),
            params=params,
            path="vector",
        )
        temps[k * sub + 1 : (k + 1) * sub + 1] = run.states[1:, :, 0]
        x = run.states[-1]
    cop_h = np.array([zone.cop_heating for zone in zones])
    cop_c = np.array([zone.cop_cooling for zone in zones])
    electric = np.maximum(hvac, 0.0) / cop_h + np.maximum(-hvac, 0.0) / cop_c
    energy = electric * (dt / 3600.0)
    lo, hi = comfort_c
    excursion = np.maximum(lo - temps, 0.0) + np.maximum(temps - hi, 0.0)
    # per step, the trapezoid over its records, counted where the step is occupied
    seg = excursion[:-1].reshape(n, sub, z) + excursion[1:].reshape(n, sub, z)
    per_step = seg.sum(axis=1) * (dt / sub / 2.0 / 3600.0)
    occupied = conditions.occupied
    worst = np.maximum(excursion[:-1].reshape(n, sub, z), excursion[1:].reshape(n, sub, z))
    return SimulatedSchedule(
        heating_c=heating_c,
        cooling_c=cooling_c,
        hvac_kw=hvac,
        electric_kw=electric,
        record_times_s=np.arange(n * sub + 1) * (dt / sub),
        zone_temp_c=temps,
        energy_kwh=energy.sum(axis=0),
        cost=(energy * conditions.price).sum(axis=0),
        comfort_kh=np.where(occupied, per_step, 0.0).sum(axis=0),
        max_excursion_k=np.where(occupied, worst.max(axis=1), 0.0).max(axis=0),
    )
