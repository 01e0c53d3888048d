"""Building energy over GraphQL: ``optimizeEnergy`` (a job), ``applyEnergySchedule`` and
``cancelEnergySchedule``.

``optimizeEnergy`` needs role ``operator`` (``engineer`` and ``admin`` imply it): it
prescribes what operators apply, changes no setpoint, and costs a linear programme and
two closed-loop simulations per zone, so it is not open to anonymous or viewer callers.
It runs as a job on the job runner (``api.services.jobs``): the mutation answers the
``Job`` at once and the plan is read as ``Job.energyPlan``. A token limited to asset
subtrees optimises, applies and sees jobs only within its scopes (FORBIDDEN outside,
as every mutation). ``applyEnergySchedule`` needs ``operator`` and every
zone in the token's scopes; see ``api.services.energy`` for what it writes and when.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from api.assets.types import Info
from api.control.schema import SetpointCommandNode
from api.jobs.types import JobNode
from api.permissions import needs
from api.services.energy import Application, EnergyRequest, ZoneSchedule
from graph.timeutil import utcnow

__all__ = ["EnergyMutation", "EnergyPlanNode"]


@strawberry.type(name="ZoneEnergyPlan", description="One zone's optimised setpoints and figures.")
class ZonePlanNode:
    zone_id: strawberry.ID
    actuator_id: strawberry.ID | None = strawberry.field(
        description="The zone's setpoint actuator (its actuator with a temperature unit)."
    )
    initial_temp_c: float
    heating_c: list[float] = strawberry.field(description="Heating setpoint per step.")
    cooling_c: list[float] = strawberry.field(description="Cooling setpoint per step.")
    setpoints_c: list[float] = strawberry.field(
        description="One setpoint per step for a single-setpoint thermostat: the optimised "
        "simulation's air temperature at the step's end, within the actuator's limits. "
        "applyEnergySchedule takes these."
    )
    energy_kwh: float
    cost: float
    comfort_degree_hours: float
    baseline_energy_kwh: float
    baseline_cost: float
    baseline_comfort_degree_hours: float
    max_excursion_k: float

    @classmethod
    def from_dict(cls, z: dict[str, Any]) -> ZonePlanNode:
        return cls(
            zone_id=strawberry.ID(z["zoneId"]),
            actuator_id=strawberry.ID(z["actuatorId"]) if z.get("actuatorId") else None,
            initial_temp_c=z["initialTempC"],
            heating_c=z["heatingC"],
            cooling_c=z["coolingC"],
            setpoints_c=z["setpointsC"],
            energy_kwh=z["energyKwh"],
            cost=z["cost"],
            comfort_degree_hours=z["comfortDegreeHours"],
            baseline_energy_kwh=z["baselineEnergyKwh"],
            baseline_cost=z["baselineCost"],
            baseline_comfort_degree_hours=z["baselineComfortDegreeHours"],
            max_excursion_k=z["maxExcursionK"],
        )


@strawberry.type(
    name="EnergyPlan",
    description="An optimised zone setpoint schedule and a fixed occupied/unoccupied baseline, "
    "both simulated through the hvac_zone model: energy, cost and comfort are read off the "
    "simulations. Comfort cost: occupied degree-hours outside the comfort band.",
)
class EnergyPlanNode:
    asset_id: strawberry.ID
    start: datetime
    step_minutes: float
    times: list[datetime] = strawberry.field(description="Step starts.")
    zones: list[ZonePlanNode]
    energy_kwh: float
    cost: float
    baseline_energy_kwh: float
    baseline_cost: float
    savings: float = strawberry.field(description="Baseline cost minus optimised cost.")
    savings_share: float = strawberry.field(description="Savings over the baseline's cost.")
    comfort_degree_hours: float
    baseline_comfort_degree_hours: float
    predicted_cost: float = strawberry.field(description="The optimiser's own cost estimate.")
    solver_status: str
    solver_message: str

    @classmethod
    def from_dict(cls, p: dict[str, Any]) -> EnergyPlanNode:
        """From a job's stored result (``api.services.energy.plan_dict``)."""
        return cls(
            asset_id=strawberry.ID(p["assetId"]),
            start=datetime.fromisoformat(p["start"]),
            step_minutes=p["stepMinutes"],
            times=[datetime.fromisoformat(t) for t in p["times"]],
            zones=[ZonePlanNode.from_dict(z) for z in p["zones"]],
            energy_kwh=p["energyKwh"],
            cost=p["cost"],
            baseline_energy_kwh=p["baselineEnergyKwh"],
            baseline_cost=p["baselineCost"],
            savings=p["savings"],
            savings_share=p["savingsShare"],
            comfort_degree_hours=p["comfortDegreeHours"],
            baseline_comfort_degree_hours=p["baselineComfortDegreeHours"],
            predicted_cost=p["predictedCost"],
            solver_status=p["solverStatus"],
            solver_message=p["solverMessage"],
        )


@strawberry.input(name="ZoneScheduleInput", description="Setpoints for one zone, one per step.")
class ZoneScheduleInput:
    zone_id: strawberry.ID
    setpoints_c: list[float]
    actuator_id: strawberry.ID | None = strawberry.field(
        default=None, description="Default: the zone's actuator with a temperature unit."
    )


@strawberry.type(name="ZoneActuator")
class ZoneActuatorNode:
    zone_id: strawberry.ID
    actuator_id: strawberry.ID


@strawberry.type(
    name="EnergyScheduleApplication",
    description="A schedule being applied: the commands written now (the step in force), "
    "and how many step writes are scheduled (each audited when written).",
)
class ApplicationNode:
    id: strawberry.ID
    start: datetime
    ends_at: datetime
    step_minutes: float
    zones: list[ZoneActuatorNode]
    commands: list[SetpointCommandNode]
    scheduled_steps: int

    @classmethod
    def from_domain(cls, a: Application) -> ApplicationNode:
        return cls(
            id=strawberry.ID(a.id),
            start=a.start,
            ends_at=a.ends_at,
            step_minutes=a.step_s / 60.0,
            zones=[
                ZoneActuatorNode(zone_id=strawberry.ID(z), actuator_id=strawberry.ID(x))
                for z, x in a.actuators.items()
            ],
            commands=[SetpointCommandNode.from_domain(c) for c in a.written],
            scheduled_steps=a.scheduled_steps,
        )


@strawberry.type
class EnergyMutation:
    @strawberry.mutation(
        extensions=needs("operator"),
        description="Optimise the HVAC zones at or below an asset (sim spec model hvac_zone) "
        "over a horizon for a price curve, occupancy (people) and outdoor temperature, given "
        "per step or per hour; keeps the comfort band while occupied and the setback band "
        "otherwise. Needs role operator and the asset in the token's scopes. A job: answers at once (status queued) once the "
        "request is checked; follow it with jobProgress and read the schedule, its savings "
        "and comfort cost as Job.energyPlan. Changes no setpoint: apply with "
        "applyEnergySchedule.",
    )
    async def optimize_energy(
        self,
        info: Info,
        asset_id: strawberry.ID,
        prices: list[float],
        occupancy: list[float],
        outdoor_temp_c: list[float],
        solar_w_m2: list[float] | None = None,
        horizon_hours: float = 24.0,
        step_minutes: float = 15.0,
        start: datetime | None = None,
        comfort_low_c: float = 21.0,
        comfort_high_c: float = 24.0,
        setback_low_c: float = 16.0,
        setback_high_c: float = 28.0,
    ) -> JobNode:
        await info.context.services.scopes.check(info.context.caller, str(asset_id))
        job = await info.context.services.jobs.optimize_energy(
            EnergyRequest(
                asset_id=str(asset_id),
                start=start or utcnow(),
                horizon_hours=horizon_hours,
                step_minutes=step_minutes,
                price=prices,
                outdoor_temp_c=outdoor_temp_c,
                occupancy=occupancy,
                solar_w_m2=solar_w_m2,
                comfort_c=(comfort_low_c, comfort_high_c),
                setback_c=(setback_low_c, setback_high_c),
            ),
            info.context.caller.name,
        )
        return JobNode.from_record(job)

    @strawberry.mutation(
        extensions=needs("operator"),
        description="Apply a zone setpoint schedule as audited setpoint commands: every value "
        "is checked against its actuator's limits first (VALIDATION, nothing written); the "
        "step in force now is written at once, later steps at their start. A new schedule "
        "for a zone replaces the running one. Needs role operator and the zones in the "
        "token's scopes.",
    )
    async def apply_energy_schedule(
        self,
        info: Info,
        start: datetime,
        step_minutes: float,
        zones: list[ZoneScheduleInput],
        reason: str = "",
    ) -> ApplicationNode:
        app = await info.context.services.energy.apply(
            info.context.caller,
            start,
            step_minutes,
            [
                ZoneSchedule(
                    zone_id=str(z.zone_id),
                    setpoints_c=list(z.setpoints_c),
                    actuator_id=str(z.actuator_id) if z.actuator_id else None,
                )
                for z in zones
            ],
            reason,
        )
        return ApplicationNode.from_domain(app)

    @strawberry.mutation(
        extensions=needs("operator"),
        description="Stop the energy schedules running on these zones (commands already "
        "written stay). Answers the zones whose schedule was stopped. Needs role operator "
        "and the zones in the token's scopes.",
    )
    async def cancel_energy_schedule(
        self, info: Info, zone_ids: list[strawberry.ID]
    ) -> list[strawberry.ID]:
        stopped = await info.context.services.energy.cancel(
            info.context.caller, [str(z) for z in zone_ids]
        )
        return [strawberry.ID(z) for z in stopped]
