"""GraphQL types of the knowledge graph, built from domain objects (kept Private)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.alerts import schema as _alerts
from api.assets.pages import connection, encode_event_cursor, event_request, pages_loader
from api.common.lookahead import asks_for
from api.common.scoping import keep, seen, visible_part, walked
from api.common.types import (
    JSON,
    AssetLevelEnum,
    Connection,
    RelationTypeEnum,
    WorkOrderStatusEnum,
    check_first,
    decode_cursor,
    encode_cursor,
)
from api.context import Context
from api.health import schema as _health
from api.permissions import reads
from api.readings import schema as _readings
from api.readings.types import LatestValueNode, SensorSummaryNode, SeriesNode
from graph import model as m
from graph.bolt.assets import MAX_LIMIT, AssetPage
from graph.bolt.maintenance import EventPage, MaintenanceFilter
from graph.bolt.topology import Neighbourhood, Reached

if TYPE_CHECKING:
    from api.control.schema import SetpointCommandNode

Info = strawberry.Info[Context, None]

# Default size of subtree, impact and rootCauses (api.limits costs them by it).
DEFAULT_WALK_LIMIT = 1_000


@strawberry.type(name="Sensor", description="A measured point of an asset.")
class SensorNode:
    id: strawberry.ID
    name: str
    kind: str
    unit: str
    min_value: float | None
    max_value: float | None
    sampling_rate_seconds: float | None
    warn_low: float | None = strawberry.field(description="Low alarm level (alerts below it).")
    warn_high: float | None = strawberry.field(description="High alarm level (alerts above it).")
    fail_low: float | None = strawberry.field(
        description="Low failure limit: at or below it the asset trips or is failed."
    )
    fail_high: float | None = strawberry.field(
        description="High failure limit: at or above it the asset trips or is failed."
    )
    domain: strawberry.Private[m.Sensor]

    @classmethod
    def from_domain(cls, s: m.Sensor) -> SensorNode:
        return cls(
            id=strawberry.ID(s.id),
            name=s.name,
            kind=s.kind,
            unit=s.unit,
            min_value=s.min_value,
            max_value=s.max_value,
            sampling_rate_seconds=s.sampling_rate_seconds,
            warn_low=s.warn_low,
            warn_high=s.warn_high,
            fail_low=s.fail_low,
            fail_high=s.fail_high,
            domain=s,
        )

    @strawberry.field
    async def asset(self, info: Info) -> AssetNode:
        return AssetNode.from_domain(await info.context.loaders.asset.load(self.domain.asset_id))

    latest: LatestValueNode | None = strawberry.field(
        resolver=_readings.sensor_latest,
        extensions=reads(),
        description="The newest reading; null before the first.",
    )
    readings: SeriesNode = strawberry.field(
        resolver=_readings.sensor_readings,
        extensions=reads(),
        description="Readings in a window: raw, or downsampled in the store by a bucket.",
    )
    alerts: list[_alerts.AlertNode] = strawberry.field(
        resolver=_alerts.sensor_alerts,
        extensions=reads(),
        description="The sensor's alerts, newest first.",
    )


@strawberry.type(name="Actuator", description="A writable control point of an asset.")
class ActuatorNode:
    id: strawberry.ID
    name: str
    unit: str
    min_value: float
    max_value: float
    domain: strawberry.Private[m.Actuator]

    @classmethod
    def from_domain(cls, x: m.Actuator) -> ActuatorNode:
        return cls(
            id=strawberry.ID(x.id),
            name=x.name,
            unit=x.unit,
            min_value=x.min_value,
            max_value=x.max_value,
            domain=x,
        )

    @strawberry.field
    async def asset(self, info: Info) -> AssetNode:
        return AssetNode.from_domain(await info.context.loaders.asset.load(self.domain.asset_id))

    @strawberry.field(description="Setpoint commands sent to this actuator (audit), newest first.")
    async def commands(
        self, info: Info, first: int = 20
    ) -> list[Annotated[SetpointCommandNode, strawberry.lazy("api.control.schema")]]:
        from api.control.schema import actuator_commands

        return await actuator_commands(info, self.domain.id, first)


@strawberry.type(name="MaintenanceEvent")
class MaintenanceEventNode:
    id: strawberry.ID
    kind: str
    at: datetime
    description: str
    technician: str
    cost: float | None
    downtime_minutes: float | None
    work_order_id: strawberry.ID | None
    domain: strawberry.Private[m.MaintenanceEvent]

    @classmethod
    def from_domain(cls, e: m.MaintenanceEvent) -> MaintenanceEventNode:
        return cls(
            id=strawberry.ID(e.id),
            kind=e.kind.value,
            at=e.at,
            description=e.description,
            technician=e.technician,
            cost=e.cost,
            downtime_minutes=e.downtime_minutes,
            work_order_id=strawberry.ID(e.work_order_id) if e.work_order_id else None,
            domain=e,
        )

    @strawberry.field
    async def asset(self, info: Info) -> AssetNode:
        return AssetNode.from_domain(await info.context.loaders.asset.load(self.domain.asset_id))


@strawberry.type(name="WorkOrder")
class WorkOrderNode:
    id: strawberry.ID
    status: WorkOrderStatusEnum
    priority: int
    created_at: datetime
    due_at: datetime | None
    reason: str
    note: str = strawberry.field(description="The note of the latest status change.")
    updated_at: datetime | None
    assessment_id: strawberry.ID | None = strawberry.field(
        description="The health assessment that opened it; null for recorded orders."
    )
    domain: strawberry.Private[m.WorkOrder]

    @classmethod
    def from_domain(cls, w: m.WorkOrder) -> WorkOrderNode:
        return cls(
            id=strawberry.ID(w.id),
            status=WorkOrderStatusEnum(w.status.value),
            priority=w.priority,
            created_at=w.created_at,
            due_at=w.due_at,
            reason=w.reason,
            note=w.note,
            updated_at=w.updated_at,
            assessment_id=strawberry.ID(w.assessment_id) if w.assessment_id else None,
            domain=w,
        )

    @strawberry.field
    async def asset(self, info: Info) -> AssetNode:
        return AssetNode.from_domain(await info.context.loaders.asset.load(self.domain.asset_id))


@strawberry.type(description="A process relation between two assets.")
class Relation:
    source_id: strawberry.ID
    target_id: strawberry.ID
    type: str

    @strawberry.field
    async def source(self, info: Info) -> AssetNode:
        return AssetNode.from_domain(await info.context.loaders.asset.load(str(self.source_id)))

    @strawberry.field
    async def target(self, info: Info) -> AssetNode:
        return AssetNode.from_domain(await info.context.loaders.asset.load(str(self.target_id)))


@strawberry.type(description="An asset of a subtree, with its depth below the root.")
class TreeEntry:
    depth: int
    asset: AssetNode


@strawberry.type(description="An asset reached by an impact or root-cause walk.")
class Reachable:
    distance: int = strawberry.field(description="Hops from the start asset.")
    via: str = strawberry.field(description="Relation type of the last hop.")
    path: list[strawberry.ID] = strawberry.field(description="Asset ids from the start asset.")
    asset_id: strawberry.ID

    @classmethod
    def from_domain(cls, r: Reached) -> Reachable:
        return cls(
            distance=r.distance,
            via=r.via,
            path=[strawberry.ID(p) for p in r.path],
            asset_id=strawberry.ID(r.id),
        )

    @strawberry.field
    async def asset(self, info: Info) -> AssetNode:
        return AssetNode.from_domain(await info.context.loaders.asset.load(str(self.asset_id)))


@strawberry.type
class GraphNode:
    id: strawberry.ID
    name: str
    type: str
    level: str
    distance: int


@strawberry.type
class GraphEdge:
    source: strawberry.ID
    target: strawberry.ID
    type: str


@strawberry.type(description="Nodes and edges around an asset, ready for a graph view.")
class GraphView:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    truncated: bool

    @classmethod
    def from_domain(cls, h: Neighbourhood) -> GraphView:
        return cls(
            nodes=[GraphNode(**n) for n in h.nodes.values()],  # type: ignore[arg-type]
            edges=sorted(
                (
                    GraphEdge(
                        source=strawberry.ID(e.source), target=strawberry.ID(e.target), type=e.type
                    )
                    for e in h.edges
                ),
                key=lambda e: (e.source, e.target, e.type),
            ),
            truncated=h.truncated,
        )


def primed(info: Info, found: list[Reached]) -> list[Reached]:
    """``found`` (a walk), after giving the assets it brought to the request's asset
    loader: ``Reachable.asset`` then needs no statement."""
    info.context.loaders.asset.prime_many({r.id: r.asset for r in found if r.asset is not None})
    return found


def maintenance_connection(page: EventPage) -> Connection[MaintenanceEventNode]:
    return connection(
        page.items, page.has_next, encode_event_cursor, MaintenanceEventNode.from_domain
    )


@strawberry.type(name="Asset", description="A physical asset in the ISA-95 hierarchy.")
class AssetNode:
    id: strawberry.ID
    name: str
    type: str
    level: AssetLevelEnum
    description: str
    lat: float | None
    lon: float | None
    metadata: JSON
    created_at: datetime | None
    updated_at: datetime | None
    domain: strawberry.Private[m.Asset]

    @classmethod
    def from_domain(cls, a: m.Asset) -> AssetNode:
        return cls(
            id=strawberry.ID(a.id),
            name=a.name,
            type=a.type,
            level=AssetLevelEnum(a.level.value),
            description=a.description,
            lat=a.lat,
            lon=a.lon,
            metadata=JSON(a.metadata),
            created_at=a.created_at,
            updated_at=a.updated_at,
            domain=a,
        )

    @strawberry.field
    async def parent(self, info: Info) -> AssetNode | None:
        if self.domain.parent_id is None or not await seen(info, self.domain.parent_id):
            return None
        return AssetNode.from_domain(await info.context.loaders.asset.load(self.domain.parent_id))

    @strawberry.field(description="Direct children, ordered by id.")
    async def children(
        self, info: Info, first: int = 50, after: str | None = None
    ) -> Connection[AssetNode]:
        key = (self.domain.id, decode_cursor(after), check_first(first))
        assets = info.context.repo.assets
        if asks_for(info, ("nodes",), "sensors") or asks_for(info, ("edges", "node"), "sensors"):
            # The children's sensors come with the page (one round trip for both).
            loader = pages_loader(
                info.context, "children_pages_sensors", assets.children_pages_with_sensors
            )
            page: AssetPage = await loader.load(key)
            info.context.loaders.sensors_of.prime_many(page.sensors or {})
        else:
            loader = pages_loader(info.context, "children_pages", assets.children_pages)
            page = await loader.load(key)
        return connection(
            page.items, page.has_next, lambda a: encode_cursor(a.id), AssetNode.from_domain
        )

    @strawberry.field
    async def sensors(self, info: Info) -> list[SensorNode]:
        return [
            SensorNode.from_domain(s)
            for s in await info.context.loaders.sensors_of.load(self.domain.id)
        ]

    @strawberry.field
    async def actuators(self, info: Info) -> list[ActuatorNode]:
        found = await info.context.loaders.actuators_of.load(self.domain.id)
        return [ActuatorNode.from_domain(x) for x in found]

    @strawberry.field(description="Parent, grandparent, ... up to the root.")
    async def ancestors(self, info: Info) -> list[AssetNode]:
        found = await info.context.loaders.ancestors.load(self.domain.id)
        shown = await keep(info, found, lambda n: (n.asset.id,))
        return [AssetNode.from_domain(n.asset) for n in shown]

    @strawberry.field(
        description="Assets below this one, to a depth (1-12), nearest first (by depth, then "
        f"id): at most limit of them (1-{MAX_LIMIT})."
    )
    async def subtree(
        self, info: Info, depth: int = 3, limit: int = DEFAULT_WALK_LIMIT
    ) -> list[TreeEntry]:
        loaders = info.context.loaders
        key = (self.domain.id, depth, limit)
        if asks_for(info, ("asset",), "sensors"):
            # The assets' sensors come with the tree (one round trip for both).
            nodes = await loaders.subtrees_with_sensors.load(key)
            loaders.sensors_of.prime_many(
                {n.asset.id: n.sensors for n in nodes if n.sensors is not None}
            )
        else:
            nodes = await loaders.subtrees.load(key)
        return [TreeEntry(depth=n.depth, asset=AssetNode.from_domain(n.asset)) for n in nodes]

    @strawberry.field(description="Process relations (FEEDS, DEPENDS_ON, CONNECTED_TO) in and out.")
    async def relations(self, info: Info) -> list[Relation]:
        edges = await keep(
            info,
            await info.context.loaders.relations.load(self.domain.id),
            lambda e: (e.source, e.target),
        )
        return [
            Relation(
                source_id=strawberry.ID(e.source), target_id=strawberry.ID(e.target), type=e.type
            )
            for e in edges
        ]

    @strawberry.field(
        description="What a failure here reaches: assets fed by or depending on it, nearest "
        f"first; at most limit of them (1-{MAX_LIMIT})."
    )
    async def impact(
        self, info: Info, max_depth: int = 10, limit: int = DEFAULT_WALK_LIMIT
    ) -> list[Reachable]:
        found = await info.context.loaders.impact.load((self.domain.id, max_depth, limit))
        return [Reachable.from_domain(r) for r in await keep(info, primed(info, found), walked)]

    @strawberry.field(
        description="Upstream assets: what feeds this one or what it depends on, nearest "
        f"first; at most limit of them (1-{MAX_LIMIT})."
    )
    async def root_causes(
        self, info: Info, max_depth: int = 10, limit: int = DEFAULT_WALK_LIMIT
    ) -> list[Reachable]:
        found = await info.context.loaders.root_causes.load((self.domain.id, max_depth, limit))
        return [Reachable.from_domain(r) for r in await keep(info, primed(info, found), walked)]

    @strawberry.field(description="Nodes and edges within some hops (1-4), for a graph view.")
    async def neighbourhood(self, info: Info, hops: int = 1) -> GraphView:
        hood = await info.context.loaders.neighbourhoods.load((self.domain.id, hops))
        return GraphView.from_domain(await visible_part(info, hood, self.domain.id))

    @strawberry.field(description="Maintenance history, newest first.")
    async def maintenance(
        self,
        info: Info,
        first: int = 20,
        after: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        technician: str | None = None,
    ) -> Connection[MaintenanceEventNode]:
        req = event_request(self.domain.id, first, after, kind, since, until, technician)
        loader = pages_loader(
            info.context, "maintenance_pages", info.context.repo.maintenance.history_pages
        )
        return maintenance_connection(await loader.load(req))

    @strawberry.field
    async def work_orders(
        self,
        info: Info,
        status: WorkOrderStatusEnum | None = None,
    ) -> list[WorkOrderNode]:
        orders = await info.context.loaders.work_orders.load(self.domain.id)
        if status is not None:
            orders = [w for w in orders if w.status.value == status.value]
        return [WorkOrderNode.from_domain(w) for w in orders]

    health: _health.Health = strawberry.field(
        resolver=_health.asset_health,
        extensions=reads(),
        description="Health index, anomaly score and remaining useful life computed from "
        "the data up to asOf (now by default); nothing is stored (assessHealth stores).",
    )
    summary: list[SensorSummaryNode] = strawberry.field(
        resolver=_readings.asset_summary,
        extensions=reads(),
        description="Count, min, max, avg and last of each of the asset's sensors in a window.",
    )
    alerts: list[_alerts.AlertNode] = strawberry.field(
        resolver=_alerts.asset_alerts,
        extensions=reads(),
        description="Alerts raised on the asset's sensors, newest first.",
    )


__all__ = [
    "ActuatorNode",
    "AssetNode",
    "GraphView",
    "MaintenanceEventNode",
    "MaintenanceFilter",
    "Reachable",
    "Relation",
    "RelationTypeEnum",
    "SensorNode",
    "TreeEntry",
    "WorkOrderNode",
]
