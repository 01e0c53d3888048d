"""Building energy: optimise the HVAC zones under an asset, and apply a schedule.

Contract:

- ``EnergyService.optimize(EnergyRequest) -> EnergyPlan``: the zones are the asset itself
  or its descendants whose sim spec runs the ``hvac_zone`` model (its parameters are the
  zone's); each zone starts from the latest reading of the sensor its sim spec maps to
  ``zone_temp_c`` (else the comfort band's middle). ``analytics.energy.optimize_energy``
  solves and simulates the schedule and the baseline, in a worker thread; the size is
  capped (``MAX_WORK``: zones x steps^2, a few seconds of work at most) so it needs no
  job on the simulation workers. Per zone, the plan carries the heating and cooling
  setpoints and one *single setpoint* per step for the zone's setpoint actuator (its actuator with a temperature unit): the optimised
  simulation's air temperature at the step's end (where the plan heats or cools, the
  setpoint it reaches; where it floats, where it floats to), clipped to the actuator.
- ``EnergyService.apply(principal, ZoneSchedule...) -> Application``: role ``operator``
  and every zone in the caller's scopes; every value is range-checked against its
  actuator, and bound to a data source, before anything is written (VALIDATION, nothing
  written). The step in force now is written at once through
  ``ControlService.write_setpoint`` (an audited ``SetpointCommand`` each, returned);
  later steps are written at their start by a timer per schedule, each audited the
  same way and with the authority of the principal that applied it. A new schedule for
  a zone replaces the one running there; ``cancel`` stops them (operator, zones in
  scope).
- Applied schedules survive a restart: each one, with every step's state (pending,
  written, failed, skipped, cancelled: ``api.services.energy_schedules``), is kept in
  ``<data dir>/energy/schedules.json`` (fsynced at every change: apply, each step,
  cancel) while it has a pending step. ``resume`` (at start-up) takes them up: steps
  whose time slot has ended are skipped (a setpoint meant for a slot that is over is
  not written late), the step whose slot holds the present is written at once, later
  ones at their start. ``aclose`` stops the timers and leaves the pending steps pending.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from analytics.energy import EnergyProblem, EnergySchedule
from analytics.schedule import Zone
from api.services.auth import Principal, Scopes
from api.services.control import ControlService
from api.services.energy_runner import ScheduleRunner
from api.services.energy_schedules import AppliedSchedule, ZoneSteps
from api.services.jobwork import work_optimize
from graph.bolt.assets import AssetRepository
from graph.bolt.commands import SetpointCommand
from graph.bolt.devices import DeviceRepository
from graph.bolt.sources import SourceRepository
from graph.errors import ValidationError
from graph.model import Actuator
from ingest.store import ReadingsStore

__all__ = [
    "Application",
    "EnergyPlan",
    "EnergyRequest",
    "EnergyService",
    "PreparedEnergy",
    "ZonePlan",
    "ZoneSchedule",
    "plan_dict",
]

log = logging.getLogger("twinql.api.energy")

MODEL = "hvac_zone"
MAX_ZONES = 200
# The optimisation's cost grows with zones x steps^2 (a dense LP per zone): 1.2 M is
# about 130 zones over 24 h at 15 min, or one zone over a week, some 10 s on one core.
MAX_WORK = 1_200_000
Compute = Callable[..., Awaitable[Any]]  # runs fn(hook, *args) off the event loop
MAX_RUNNING = 1_000  # zones with a schedule running in this process
TEMPERATURE_UNITS = frozenset({"°C", "degC", "C", "celsius"})


@dataclass(frozen=True, slots=True)
class EnergyRequest:
    """Per step (or per hour of the horizon, held): price per kWh, outdoor temperature,
    people present (all zones), solar irradiance (optional). Bands in degC."""

    asset_id: str
    start: datetime
    horizon_hours: float
    step_minutes: float
    price: list[float]
    outdoor_temp_c: list[float]
    occupancy: list[float]
    solar_w_m2: list[float] | None = None
    comfort_c: tuple[float, float] = (21.0, 24.0)
    setback_c: tuple[float, float] = (16.0, 28.0)


@dataclass(frozen=True, slots=True)
class ZonePlan:
    zone_id: str
    actuator: Actuator | None
    initial_temp_c: float
    heating_c: list[float]
    cooling_c: list[float]
    setpoint_c: list[float]
    energy_kwh: float
    cost: float
    comfort_kh: float
    baseline_energy_kwh: float
    baseline_cost: float
    baseline_comfort_kh: float
    max_excursion_k: float


@dataclass(frozen=True, slots=True)
class EnergyPlan:
    asset_id: str
    start: datetime
    step_s: float
    schedule: EnergySchedule
    zones: list[ZonePlan]

    @property
    def times(self) -> list[datetime]:
        return [self.start + timedelta(seconds=float(t)) for t in self.schedule.times_s]


@dataclass(frozen=True, slots=True)
class PreparedEnergy:
    """A checked optimisation request with what it read: ready to solve."""

    request: EnergyRequest
    problem: EnergyProblem
    zones: list[Zone]
    actuators: dict[str, list[Actuator]]


def plan_dict(p: EnergyPlan) -> dict[str, Any]:
    """The plan as plain JSON data (a job's stored result): the figures the API shows."""
    r = p.schedule
    return {
        "assetId": p.asset_id,
        "start": p.start.isoformat(),
        "stepMinutes": p.step_s / 60.0,
        "times": [t.isoformat() for t in p.times],
        "energyKwh": r.energy_kwh,
        "cost": r.cost,
        "baselineEnergyKwh": r.baseline_energy_kwh,
        "baselineCost": r.baseline_cost,
        "savings": r.savings,
        "savingsShare": r.savings_share,
        "comfortDegreeHours": r.comfort_kh,
        "baselineComfortDegreeHours": r.baseline_comfort_kh,
        "predictedCost": r.predicted_cost,
        "solverStatus": r.solver_status,
        "solverMessage": r.solver_message,
        "zones": [
            {
                "zoneId": z.zone_id,
                "actuatorId": z.actuator.id if z.actuator else None,
                "initialTempC": z.initial_temp_c,
                "heatingC": z.heating_c,
                "coolingC": z.cooling_c,
                "setpointsC": z.setpoint_c,
                "energyKwh": z.energy_kwh,
                "cost": z.cost,
                "comfortDegreeHours": z.comfort_kh,
                "baselineEnergyKwh": z.baseline_energy_kwh,
                "baselineCost": z.baseline_cost,
                "baselineComfortDegreeHours": z.baseline_comfort_kh,
                "maxExcursionK": z.max_excursion_k,
            }
            for z in p.zones
        ],
    }


@dataclass(frozen=True, slots=True)
class ZoneSchedule:
    """Setpoints for one zone's setpoint actuator, one per step."""

    zone_id: str
    setpoints_c: list[float]
    actuator_id: str | None = None


@dataclass(frozen=True, slots=True)
class Application:
    id: str
    start: datetime
    step_s: float
    actuators: dict[str, str]  # zone -> actuator
    written: list[SetpointCommand]
    scheduled_steps: int
    ends_at: datetime = field(init=False)
    steps: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "ends_at", self.start + timedelta(seconds=self.step_s * self.steps)
        )


def _per_step(values: list[float], n: int, per_hour: int | None, what: str) -> np.ndarray:
    a = np.asarray(values, dtype=float)
    if a.size == n:
        return a
    if per_hour is not None and a.size * per_hour == n:
        return np.repeat(a, per_hour)
    hours = f" or {n // per_hour} (one per hour)" if per_hour else ""
    raise ValidationError(f"{what} needs {n} values (one per step){hours}, got {a.size}", path=what)


def setpoint_actuator(zone_id: str, actuators: list[Actuator], wanted: str | None) -> Actuator:
    if wanted is not None:
        for a in actuators:
            if a.id == wanted:
                return a
        raise ValidationError(f"actuator {wanted} is not on zone {zone_id}", path="actuatorId")
    temps = [a for a in actuators if a.unit in TEMPERATURE_UNITS]
    if len(temps) != 1:
        raise ValidationError(
            f"zone {zone_id} has {len(temps)} actuators with a temperature unit; name one "
            "with actuatorId",
            path="actuatorId",
        )
    return temps[0]


class EnergyService:
    """Zone setpoint optimisation over the graph's zones, and schedules applied to them."""

    def __init__(
        self,
        assets: AssetRepository,
        devices: DeviceRepository,
        sources: SourceRepository,
        readings: ReadingsStore,
        control: ControlService,
        scopes: Scopes,
        schedules_file: Path | None = None,
    ) -> None:
        self._assets = assets
        self._devices = devices
        self._sources = sources
        self._readings = readings
        self._control = control
        self._scopes = scopes
        self.schedules = ScheduleRunner(control, schedules_file)

    async def _zone_specs(self, asset_id: str) -> dict[str, dict[str, Any]]:
        nodes = await self._assets.subtree(asset_id, depth=6, limit=5_000)
        ids = [asset_id, *(n.asset.id for n in nodes)]
        specs = await self._assets.specs(ids)
        zones = {
            i: s["sim"]
            for i in ids
            if (s := specs.get(i))
            and isinstance(s.get("sim"), dict)
            and s["sim"].get("model") == MODEL
        }
        if not zones:
            raise ValidationError(
                f"no HVAC zone at or below {asset_id} (an asset whose sim spec runs {MODEL})"
            )
        if len(zones) > MAX_ZONES:
            raise ValidationError(f"more than {MAX_ZONES} zones below {asset_id}")
        return dict(sorted(zones.items()))

    async def prepare(self, req: EnergyRequest) -> PreparedEnergy:
        """Every check and read of an optimisation (cheap: done before a job starts)."""
        await self._assets.get(req.asset_id)
        if not (math.isfinite(req.horizon_hours) and 0 < req.horizon_hours <= 168):
            raise ValidationError("horizonHours must be in (0, 168]", path="horizonHours")
        if not (math.isfinite(req.step_minutes) and 1 <= req.step_minutes <= 240):
            raise ValidationError("stepMinutes must be in [1, 240]", path="stepMinutes")
        if req.start.tzinfo is None:
            raise ValidationError("start needs a time zone", path="start")
        step_s = req.step_minutes * 60.0
        n = round(req.horizon_hours * 3600.0 / step_s)
        per_hour = round(3600.0 / step_s) if 3600.0 % step_s == 0 else None
        specs = await self._zone_specs(req.asset_id)
        if len(specs) * n * n > MAX_WORK:
            raise ValidationError(
                f"{len(specs)} zones over {n} steps is past the cap (zones x steps^2 <= "
                f"{MAX_WORK:,}): optimise fewer zones (a sub-asset) or fewer steps",
                path="horizonHours",
            )
        temp_sensor = {z: _zone_temp_sensor(spec) for z, spec in specs.items()}
        latest = await self._readings.latest([s for s in temp_sensor.values() if s])
        actuators = await self._devices.actuators_of(list(specs))
        mid = sum(req.comfort_c) / 2.0
        zones = []
        for z, spec in specs.items():
            got = latest.get(temp_sensor[z] or "")
            t0 = got.value if got is not None and got.value is not None else mid
            params = {k: float(v) for k, v in (spec.get("parameters") or {}).items()}
            zones.append(Zone(z, params, initial_temp_c=float(t0)))
        problem = EnergyProblem(
            zones=zones,
            price=_per_step(req.price, n, per_hour, "prices"),
            outdoor_temp_c=_per_step(req.outdoor_temp_c, n, per_hour, "outdoorTempC"),
            occupancy=_per_step(req.occupancy, n, per_hour, "occupancy"),
            solar_w_m2=None
            if req.solar_w_m2 is None
            else _per_step(req.solar_w_m2, n, per_hour, "solarWM2"),
            horizon_s=n * step_s,
            step_s=step_s,
            comfort_c=req.comfort_c,
            setback_c=req.setback_c,
        )
        return PreparedEnergy(req, problem, zones, actuators)

    async def solve(self, prepared: PreparedEnergy, compute: Compute | None = None) -> EnergyPlan:
        """Optimise and simulate: ``compute`` runs ``api.services.jobwork.work_optimize``
        (in the job runner's pool for a job; a worker thread by default)."""
        result = await (compute or _in_thread)(work_optimize, prepared.problem)
        req, actuators = prepared.request, prepared.actuators
        return EnergyPlan(
            asset_id=req.asset_id,
            start=req.start,
            step_s=prepared.problem.step_s,
            schedule=result,
            zones=[
                _zone_plan(result, j, z, _maybe_actuator(z.zone_id, actuators.get(z.zone_id, [])))
                for j, z in enumerate(prepared.zones)
            ],
        )

    async def optimize(self, req: EnergyRequest) -> EnergyPlan:
        return await self.solve(await self.prepare(req))

    async def apply(
        self,
        principal: Principal,
        start: datetime,
        step_minutes: float,
        schedules: list[ZoneSchedule],
        reason: str = "",
    ) -> Application:
        """Check every zone and value, write the step in force now, schedule the rest."""
        principal.require("operator")
        if not schedules:
            raise ValidationError("give at least one zone schedule", path="zones")
        if start.tzinfo is None:
            raise ValidationError("start needs a time zone", path="start")
        if not (math.isfinite(step_minutes) and step_minutes > 0):
            raise ValidationError("stepMinutes must be positive", path="stepMinutes")
        zone_ids = [s.zone_id for s in schedules]
        if len(set(zone_ids)) != len(zone_ids):
            raise ValidationError("a zone appears twice", path="zones")
        await self._scopes.check_all(principal, zone_ids)
        found = await self._assets.get_many(zone_ids)
        missing = [z for z in zone_ids if z not in found]
        if missing:
            raise ValidationError(f"unknown zones: {', '.join(missing)}", path="zones")
        acts = await self._devices.actuators_of(zone_ids)
        steps = {len(s.setpoints_c) for s in schedules}
        if len(steps) != 1 or 0 in steps:
            raise ValidationError("every zone needs the same, non-zero number of setpoints")
        chosen: dict[str, Actuator] = {}
        for s in schedules:
            act = setpoint_actuator(s.zone_id, acts.get(s.zone_id, []), s.actuator_id)
            for k, v in enumerate(s.setpoints_c):
                try:
                    act.check_value(v)
                except ValidationError as exc:
                    raise ValidationError(
                        f"zone {s.zone_id} step {k}: {exc.message}", path="setpointsC"
                    ) from None
            if await self._sources.binding_of_actuator(act.id) is None:
                raise ValidationError(
                    f"actuator {act.id} of zone {s.zone_id} has no DRIVES binding to a data "
                    "source; nothing was written",
                    path="zones",
                )
            chosen[s.zone_id] = act
        if len(set(self.schedules.running()) | set(zone_ids)) > MAX_RUNNING:
            raise ValidationError(f"more than {MAX_RUNNING} zones with a running schedule")
        n, step_s = steps.pop(), step_minutes * 60.0
        app = AppliedSchedule(
            id=f"energy-{uuid.uuid4().hex[:12]}",
            start=start,
            step_s=step_s,
            steps=n,
            principal=principal,
            reason=reason,
            zones={
                s.zone_id: ZoneSteps(s.zone_id, chosen[s.zone_id].id, list(s.setpoints_c),
                                     ["pending"] * n)
                for s in schedules
            },
        )  # fmt: skip
        written = await self.schedules.start(app)
        log.info("energy schedule %s on %s by %s", app.id, ", ".join(zone_ids), principal.name)
        return Application(
            id=app.id,
            start=start,
            step_s=step_s,
            actuators={z: a.id for z, a in chosen.items()},
            written=written,
            scheduled_steps=sum(st.states.count("pending") for st in app.zones.values()),
            steps=n,
        )

    async def cancel(self, principal: Principal, zone_ids: list[str]) -> list[str]:
        """Stop the schedules running on these zones (operator, zones in scope); the
        zones whose schedule was stopped. Commands already written stay as they are."""
        principal.require("operator")
        await self._scopes.check_all(principal, zone_ids)
        stopped = await self.schedules.cancel(zone_ids)
        if stopped:
            log.info("energy schedules on %s cancelled by %s", ", ".join(stopped), principal.name)
        return stopped

    async def resume(self) -> int:
        return await self.schedules.resume()

    def running(self) -> list[str]:
        """Zones with a schedule still running."""
        return self.schedules.running()

    async def aclose(self) -> None:
        await self.schedules.aclose()


async def _in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(fn, lambda f: None, *args)


def _zone_temp_sensor(spec: dict[str, Any]) -> str | None:
    for sensor, target in (spec.get("state_map") or {}).items():
        name = target.get("name") if isinstance(target, dict) else target
        if name == "zone_temp_c":
            return str(sensor)
    return None


def _maybe_actuator(zone_id: str, actuators: list[Actuator]) -> Actuator | None:
    try:
        return setpoint_actuator(zone_id, actuators, None)
    except ValidationError:
        return None


def _zone_plan(r: EnergySchedule, j: int, zone: Zone, act: Actuator | None) -> ZonePlan:
    opt, base = r.optimised, r.baseline
    n = r.heating_c.shape[0]
    per_step = opt.zone_temp_c.shape[0] // n if n else 1
    ends = opt.zone_temp_c[per_step::per_step, j][:n]
    if act is not None:
        ends = np.clip(ends, act.min_value, act.max_value)
    return ZonePlan(
        zone_id=zone.zone_id,
        actuator=act,
        initial_temp_c=zone.initial_temp_c,
        heating_c=[float(v) for v in r.heating_c[:, j]],
        cooling_c=[float(v) for v in r.cooling_c[:, j]],
        setpoint_c=[round(float(v), 2) for v in ends],
        energy_kwh=float(opt.energy_kwh[j]),
        cost=float(opt.cost[j]),
        comfort_kh=float(opt.comfort_kh[j]),
        baseline_energy_kwh=float(base.energy_kwh[j]),
        baseline_cost=float(base.cost[j]),
        baseline_comfort_kh=float(base.comfort_kh[j]),
        max_excursion_k=float(opt.max_excursion_k[j]),
    )
