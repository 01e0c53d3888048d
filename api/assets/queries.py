"""Queries over the knowledge graph: assets, sensors, walks, paths, maintenance."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from api.assets.pages import event_request
from api.assets.types import (
    DEFAULT_WALK_LIMIT,
    ActuatorNode,
    AssetNode,
    GraphEdge,
    GraphView,
    Info,
    MaintenanceEventNode,
    Reachable,
    SensorNode,
    maintenance_connection,
    primed,
)
from api.common.scoping import (
    keep,
    plant_wide_read,
    see_or_not_found,
    seen,
    seen_all,
    visible,
    visible_part,
    walked,
)
from api.common.types import (
    JSON,
    AssetLevelEnum,
    Connection,
    Edge,
    PageInfo,
    ProtocolEnum,
    check_first,
    decode_cursor,
    encode_cursor,
)
from api.control.schema import DataSourceStatusNode, status_node
from api.permissions import reads
from graph.bolt.assets import MAX_LIMIT
from graph.bolt.sources import SourceConfig
from graph.errors import NotFound, ValidationError
from graph.model import AssetLevel, Sensor
from graph.redact import redact_settings, redact_url


@strawberry.type
class Path:
    asset_ids: list[strawberry.ID]
    edges: list[GraphEdge]
    length: int


@strawberry.type(name="SensorBinding")
class SensorBindingNode:
    sensor_id: strawberry.ID
    asset_id: strawberry.ID
    address: str
    scale: float
    offset: float
    data_type: str


@strawberry.type(name="ActuatorBinding")
class ActuatorBindingNode:
    actuator_id: strawberry.ID
    asset_id: strawberry.ID
    address: str
    data_type: str
    scale: float
    offset: float


@strawberry.type(name="DataSource", description="A device connection; addressing is data.")
class DataSourceNode:
    id: strawberry.ID
    protocol: ProtocolEnum
    raw_endpoint: strawberry.Private[str]
    name: str
    settings: JSON
    sensor_bindings: list[SensorBindingNode]
    actuator_bindings: list[ActuatorBindingNode]

    @strawberry.field(
        description="Where the device is reached; credentials in it (user:password@, "
        "secret query values) are masked as *** for callers other than admins."
    )
    def endpoint(self, info: Info) -> str:
        principal = info.context.principal
        if principal is not None and principal.has("admin"):
            return self.raw_endpoint
        return redact_url(self.raw_endpoint)

    @strawberry.field(
        description="The connector's live state (connected, last value, errors); null for "
        "sources without a device connector (HTTP)."
    )
    def status(self, info: Info) -> DataSourceStatusNode | None:
        return status_node(info.context.services.control.status(str(self.id)))

    @classmethod
    def from_config(cls, c: SourceConfig) -> DataSourceNode:
        s = c.source
        return cls(
            id=strawberry.ID(s.id),
            protocol=ProtocolEnum(s.protocol.value),
            raw_endpoint=s.endpoint,
            name=s.name,
            settings=JSON(redact_settings(s.settings)),
            sensor_bindings=[
                SensorBindingNode(
                    sensor_id=strawberry.ID(b.sensor_id),
                    asset_id=strawberry.ID(c.sensor_asset.get(b.sensor_id, "")),
                    address=b.address,
                    scale=b.scale,
                    offset=b.offset,
                    data_type=b.data_type,
                )
                for b in c.sensors
            ],
            actuator_bindings=[
                ActuatorBindingNode(
                    actuator_id=strawberry.ID(b.actuator_id),
                    asset_id=strawberry.ID(c.actuator_asset.get(b.actuator_id, "")),
                    address=b.address,
                    data_type=b.data_type,
                    scale=b.scale,
                    offset=b.offset,
                )
                for b in c.actuators
            ],
        )


def _asset_of(x: Sensor) -> tuple[str]:
    return (x.asset_id,)


@strawberry.type
class GraphStats:
    assets: int
    sensors: int
    actuators: int


@strawberry.type
class GraphQuery:
    @strawberry.field(
        description="One asset by its business id; null when unknown.", extensions=reads()
    )
    async def asset(self, info: Info, id: strawberry.ID) -> AssetNode | None:
        found = await info.context.repo.assets.get_many([str(id)])
        a = found.get(str(id))
        return AssetNode.from_domain(a) if a and await seen(info, a.id) else None

    @strawberry.field(
        description="Assets ordered by id; filter by level, type or text.", extensions=reads()
    )
    async def assets(
        self,
        info: Info,
        first: int = 50,
        after: str | None = None,
        level: AssetLevelEnum | None = None,
        type: str | None = None,
        search: Annotated[
            str | None,
            strawberry.argument(description="Case-insensitive text in the id or the name."),
        ] = None,
        roots_only: bool = False,
    ) -> Connection[AssetNode]:
        check_first(first)
        page = await info.context.repo.assets.page(
            after=decode_cursor(after),
            limit=first,
            level=AssetLevel(level.value) if level else None,
            type=type,
            text=search,
            roots_only=roots_only,
            scope=await visible(info),
        )
        edges = [
            Edge(cursor=encode_cursor(a.id), node=AssetNode.from_domain(a)) for a in page.items
        ]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=page.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
        )

    @strawberry.field(extensions=reads())
    async def sensor(self, info: Info, id: strawberry.ID) -> SensorNode | None:
        found = await info.context.repo.devices.sensors([str(id)])
        s = found.get(str(id))
        return SensorNode.from_domain(s) if s and await seen(info, s.asset_id) else None

    @strawberry.field(
        extensions=reads(),
        description="Several sensors by id, in the order asked (unknown ids skipped).",
    )
    async def sensors(self, info: Info, ids: list[strawberry.ID]) -> list[SensorNode]:
        if len(ids) > 1000:
            raise ValidationError("at most 1000 sensor ids per request")
        found = await info.context.repo.devices.sensors([str(i) for i in ids])
        shown = await keep(info, [found[str(i)] for i in ids if str(i) in found], _asset_of)
        return [SensorNode.from_domain(s) for s in shown]

    @strawberry.field(extensions=reads())
    async def actuator(self, info: Info, id: strawberry.ID) -> ActuatorNode | None:
        found = await info.context.repo.devices.actuators([str(id)])
        x = found.get(str(id))
        return ActuatorNode.from_domain(x) if x and await seen(info, x.asset_id) else None

    @strawberry.field(
        extensions=reads(),
        description="Downstream of an asset: what its failure reaches, nearest first; at "
        f"most limit assets (1-{MAX_LIMIT}).",
    )
    async def impact(
        self,
        info: Info,
        asset_id: strawberry.ID,
        max_depth: int = 10,
        limit: int = DEFAULT_WALK_LIMIT,
    ) -> list[Reachable]:
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        found = await info.context.repo.topology.impact(str(asset_id), max_depth, limit)
        return [Reachable.from_domain(r) for r in await keep(info, primed(info, found), walked)]

    @strawberry.field(
        extensions=reads(),
        description="Upstream of an asset: root-cause candidates, nearest first; at most "
        f"limit assets (1-{MAX_LIMIT}).",
    )
    async def root_causes(
        self,
        info: Info,
        asset_id: strawberry.ID,
        max_depth: int = 10,
        limit: int = DEFAULT_WALK_LIMIT,
    ) -> list[Reachable]:
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        found = await info.context.repo.topology.root_causes(str(asset_id), max_depth, limit)
        return [Reachable.from_domain(r) for r in await keep(info, primed(info, found), walked)]

    @strawberry.field(
        description="Shortest path between two assets; null when unconnected.", extensions=reads()
    )
    async def path(
        self,
        info: Info,
        from_id: strawberry.ID,
        to_id: strawberry.ID,
        process_only: bool = False,
    ) -> Path | None:
        outside = {str(from_id), str(to_id)} - (await visible(info) or set())
        if info.context.caller.scopes and outside:  # as the repository words unknown ones
            raise NotFound(f"asset(s) not found: {', '.join(sorted(outside))}")
        p = await info.context.repo.topology.shortest_path(
            str(from_id), str(to_id), process_only=process_only
        )
        if p is None or not await seen_all(info, p.ids):
            return None
        return Path(
            asset_ids=[strawberry.ID(i) for i in p.ids],
            edges=[
                GraphEdge(
                    source=strawberry.ID(e.source), target=strawberry.ID(e.target), type=e.type
                )
                for e in p.edges
            ],
            length=len(p.edges),
        )

    @strawberry.field(
        description="Nodes and edges within some hops of an asset.", extensions=reads()
    )
    async def neighbourhood(self, info: Info, asset_id: strawberry.ID, hops: int = 1) -> GraphView:
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        hood = await info.context.repo.topology.neighbourhood(str(asset_id), hops)
        return GraphView.from_domain(await visible_part(info, hood, str(asset_id)))

    @strawberry.field(
        description="Maintenance of an asset and, by default, everything below it.",
        extensions=reads(),
    )
    async def maintenance_history(
        self,
        info: Info,
        asset_id: strawberry.ID,
        include_descendants: bool = True,
        first: int = 50,
        after: str | None = None,
        kind: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        technician: str | None = None,
    ) -> Connection[MaintenanceEventNode]:
        repo = info.context.repo
        req = event_request(str(asset_id), first, after, kind, since, until, technician)
        await repo.assets.get(req.asset_id)
        await see_or_not_found(info, req.asset_id, f"asset {req.asset_id} not found")
        if include_descendants:
            page = await repo.maintenance.history_under_page(
                req.asset_id, req.limit, req.after, req.flt
            )
        else:
            page = (await repo.maintenance.history_pages([req]))[req]
        return maintenance_connection(page)

    @strawberry.field(extensions=reads())
    async def data_sources(self, info: Info) -> list[DataSourceNode]:
        plant_wide_read(info, "the list of data sources")
        return [DataSourceNode.from_config(c) for c in await info.context.repo.sources.configs()]

    @strawberry.field(extensions=reads())
    async def graph_stats(self, info: Info) -> GraphStats:
        plant_wide_read(info, "the graph's statistics")
        return GraphStats(**await info.context.repo.assets.counts())
