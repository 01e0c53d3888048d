"""Building energy over GraphQL: ``optimizeEnergy`` (query) and ``applyEnergySchedule``.

``optimizeEnergy`` needs role ``operator`` (``engineer`` and ``admin`` imply it): it
prescribes what operators apply, changes nothing, and costs a linear programme and two
closed-loop simulations per zone, so it is not open to anonymous or viewer callers. It is
a read: a token limited to asset subtrees may optimise any zone (it can read them all),
but only apply within its scopes. ``applyEnergySchedule`` needs ``operator`` and every
zone in the token's scopes; see ``api.services.energy`` for what it writes and when.
"""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.assets.types import Info
from api.common.scoping import see_or_not_found
from api.control.schema import SetpointCommandNode
from api.permissions import needs
from api.services.energy import Application, EnergyPlan, EnergyRequest, ZonePlan, ZoneSchedule
from graph.timeutil import utcnow

__all__ = ["EnergyMutation", "EnergyQuery"]


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
    def from_domain(cls, z: ZonePlan) -> ZonePlanNode:
        return cls(
            zone_id=strawberry.ID(z.zone_id),
            actuator_id=strawberry.ID(z.actuator.id) if z.actuator else None,
            initial_temp_c=z.initial_temp_c,
            heating_c=z.heating_c,
            cooling_c=z.cooling_c,
            setpoints_c=z.setpoint_c,
            energy_kwh=z.energy_kwh,
            cost=z.cost,
            comfort_degree_hours=z.comfort_kh,
            baseline_energy_kwh=z.baseline_energy_kwh,
            baseline_cost=z.baseline_cost,
            baseline_comfort_degree_hours=z.baseline_comfort_kh,
            max_excursion_k=z.max_excursion_k,
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
    def from_domain(cls, p: EnergyPlan) -> EnergyPlanNode:
        r = p.schedule
        return cls(
            asset_id=strawberry.ID(p.asset_id),
            start=p.start,
            step_minutes=p.step_s / 60.0,
            times=p.times,
            zones=[ZonePlanNode.from_domain(z) for z in p.zones],
            energy_kwh=r.energy_kwh,
            cost=r.cost,
            baseline_energy_kwh=r.baseline_energy_kwh,
            baseline_cost=r.baseline_cost,
            savings=r.savings,
            savings_share=r.savings_share,
            comfort_degree_hours=r.comfort_kh,
            baseline_comfort_degree_hours=r.baseline_comfort_kh,
            predicted_cost=r.predicted_cost,
            solver_status=r.solver_status,
            solver_message=r.solver_message,
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
class EnergyQuery:
    @strawberry.field(
        extensions=needs("operator"),
        description="Optimise the HVAC zones at or below an asset (sim spec model hvac_zone) "
        "over a horizon for a price curve, occupancy (people) and outdoor temperature, given "
        "per step or per hour; keeps the comfort band while occupied and the setback band "
        "otherwise. Needs role operator. Changes nothing: apply with applyEnergySchedule.",
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
    ) -> EnergyPlanNode:
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        plan = await info.context.services.energy.optimize(
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
            )
        )
        return EnergyPlanNode.from_domain(plan)


@strawberry.type
class EnergyMutation:
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
