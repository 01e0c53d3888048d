"""``oee(assetId, from, to)``: OEE of a station or a line over a window (role: any reader).

The figures and the losses are ``analytics.oee``'s (see its docstring for the
definitions); what is read from the graph and the store is
``api.services.oee.OeeService``'s. Ratios are null where their denominator is zero.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from analytics.oee import LineOee, Loss, StationOee
from api.assets.types import Info
from api.common.scoping import see_or_not_found
from api.permissions import reads

__all__ = ["OeeQuery", "OeeResultNode"]


@strawberry.enum(name="OeeScope", description="What an OEE result describes.")
class OeeScopeEnum(Enum):
    STATION = "station"
    LINE = "line"


@strawberry.type(name="OeeLoss", description="One loss: time, and parts at the ideal cycle.")
class OeeLossNode:
    name: str = strawberry.field(
        description="breakdowns, setup, idle, blocked, starved, reduced_speed, defects "
        "(a station) or availability, performance, quality (a line)."
    )
    category: str = strawberry.field(description="availability, performance or quality.")
    seconds: float
    parts: float

    @classmethod
    def from_domain(cls, loss: Loss) -> OeeLossNode:
        return cls(name=loss.name, category=loss.kind, seconds=loss.seconds, parts=loss.parts)


@strawberry.type(name="OeeStateTime", description="Known time a station spent in a state.")
class OeeStateTimeNode:
    state: str
    seconds: float


@strawberry.type(name="StationOee", description="A station's OEE over the window.")
class StationOeeNode:
    station_id: strawberry.ID
    ideal_cycle_seconds: float
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    planned_seconds: float = strawberry.field(
        description="Known time less planned stops: the production time OEE is out of."
    )
    operating_seconds: float
    running_seconds: float
    unknown_seconds: float = strawberry.field(
        description="Time without state or counter data, left out of every figure."
    )
    planned_stop_seconds: float
    total_count: float
    good_count: float
    quality_measured: bool = strawberry.field(
        description="False when the station has no good or reject counter (every part counts "
        "as good)."
    )
    counter_resets: int
    losses: list[OeeLossNode]
    states: list[OeeStateTimeNode]

    @classmethod
    def from_domain(cls, s: StationOee) -> StationOeeNode:
        return cls(
            station_id=strawberry.ID(s.station_id),
            ideal_cycle_seconds=s.ideal_cycle_s,
            availability=s.availability,
            performance=s.performance,
            quality=s.quality,
            oee=s.oee,
            planned_seconds=s.planned_s,
            operating_seconds=s.operating_s,
            running_seconds=s.running_s,
            unknown_seconds=s.unknown_s,
            planned_stop_seconds=s.planned_stop_s,
            total_count=s.total_count,
            good_count=s.good_count,
            quality_measured=s.quality_measured,
            counter_resets=s.counter_resets,
            losses=[OeeLossNode.from_domain(x) for x in s.losses],
            states=[OeeStateTimeNode(state=k, seconds=v) for k, v in s.state_seconds.items()],
        )


@strawberry.type(
    name="OeeResult",
    description="OEE = availability x performance x quality of a station or a line; a line's "
    "is output-based (good parts leaving the last station at the bottleneck's ideal cycle).",
)
class OeeResultNode:
    asset_id: strawberry.ID
    scope: OeeScopeEnum
    start: datetime
    end: datetime
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    ideal_cycle_seconds: float
    planned_seconds: float
    good_count: float
    bottleneck_id: strawberry.ID | None = strawberry.field(
        description="A line's station with the slowest ideal cycle (null for a station)."
    )
    losses: list[OeeLossNode]
    stations: list[StationOeeNode] = strawberry.field(
        description="The line's stations in flow order (a station: itself)."
    )

    @classmethod
    def from_domain(
        cls, asset_id: str, start: datetime, end: datetime, r: StationOee | LineOee
    ) -> OeeResultNode:
        stations: tuple[StationOee, ...]
        if isinstance(r, StationOee):
            stations, scope, neck = (r,), OeeScopeEnum.STATION, None
        else:
            stations, scope, neck = r.stations, OeeScopeEnum.LINE, strawberry.ID(r.bottleneck_id)
        return cls(
            asset_id=strawberry.ID(asset_id),
            scope=scope,
            start=start,
            end=end,
            availability=r.availability,
            performance=r.performance,
            quality=r.quality,
            oee=r.oee,
            ideal_cycle_seconds=r.ideal_cycle_s,
            planned_seconds=r.planned_s,
            good_count=r.good_count,
            bottleneck_id=neck,
            losses=[OeeLossNode.from_domain(x) for x in r.losses],
            stations=[StationOeeNode.from_domain(s) for s in stations],
        )


@strawberry.type
class OeeQuery:
    @strawberry.field(
        extensions=reads(),
        description="OEE of a station (an asset with a station spec or ideal_cycle_s metadata, "
        "a `state` and a `counter` sensor) or a line (its child stations in FEEDS order) over "
        "[from, to), at most 31 days, with the losses broken down.",
    )
    async def oee(
        self,
        info: Info,
        asset_id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
    ) -> OeeResultNode:
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        result = await info.context.services.oee.oee(str(asset_id), from_, to)
        return OeeResultNode.from_domain(str(asset_id), from_, to, result)
