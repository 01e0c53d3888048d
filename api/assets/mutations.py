"""Mutations of the knowledge graph: registration, relations, maintenance, sources.

Registry edits need the ``engineer`` role; maintenance records need ``operator``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from enum import Enum
from typing import Annotated

import strawberry

from api.assets.inputs import (
    ActuatorInput,
    AssetInput,
    DataSourceInput,
    MaintenanceEventInput,
    RelationInput,
    SensorInput,
    WorkOrderInput,
)
from api.assets.queries import DataSourceNode
from api.assets.types import (
    ActuatorNode,
    AssetNode,
    Info,
    MaintenanceEventNode,
    SensorNode,
    WorkOrderNode,
)
from api.common.scoping import (
    actuators_in_scope,
    assets_in_scope,
    place_in_scope,
    relations_in_scope,
    sensors_in_scope,
    whole_plant,
)
from api.common.types import JSON
from api.permissions import needs
from graph.errors import ValidationError
from graph.plantfile import parse_plant
from graph.redact import redact_url
from sim import MODELS

MAX_BATCH = 10_000
MAX_PLANT_DOCUMENT = 32 * 1024 * 1024


@strawberry.enum
class PlantFormat(Enum):
    YAML = "yaml"
    JSON = "json"


@strawberry.type(description="A data source whose endpoint an import changed.")
class EndpointChangeNode:
    source_id: strawberry.ID
    before: str
    after: str


@strawberry.type
class ImportResult:
    name: str
    counts: JSON
    seconds: float
    endpoint_changes: list[EndpointChangeNode] = strawberry.field(
        description="Data sources already in the graph whose endpoint this import changed: "
        "their running connectors reconnect to the new endpoint."
    )


def _check_batch(items: Sequence[object], what: str) -> None:
    if len(items) > MAX_BATCH:
        raise ValidationError(f"at most {MAX_BATCH} {what} per request, got {len(items)}")


@strawberry.type
class DeleteResult:
    deleted_ids: list[strawberry.ID]


@strawberry.type
class MaintenanceResult:
    events: list[MaintenanceEventNode]
    work_orders: list[WorkOrderNode]


@strawberry.type
class GraphMutation:
    @strawberry.mutation(
        extensions=needs("engineer"),
        description="Import a whole plant description (YAML or JSON, the format of "
        "`twinql load`). Idempotent; a bad document is refused whole, with every fault's "
        "path and line in extensions.errors.",
    )
    async def import_plant(
        self, info: Info, document: str, format: PlantFormat | None = None
    ) -> ImportResult:
        whole_plant(info, "importPlant")
        if len(document) > MAX_PLANT_DOCUMENT:
            raise ValidationError(f"plant documents are limited to {MAX_PLANT_DOCUMENT} bytes")
        # Parsing a large document takes a second or more: off the event loop.
        plant = await asyncio.to_thread(
            parse_plant,
            document,
            fmt=format.value if format else None,
            source_name="<document>",
            sim_models=set(MODELS),
            external_parents=True,
        )
        report = await info.context.services.registry.import_plant(plant)
        return ImportResult(
            name=report.name,
            counts=JSON(report.counts),
            seconds=report.seconds,
            endpoint_changes=[
                EndpointChangeNode(
                    source_id=strawberry.ID(c.source_id),
                    before=redact_url(c.before),
                    after=redact_url(c.after),
                )
                for c in report.endpoint_changes
            ],
        )

    @strawberry.mutation(
        description="Create or update assets (and their place in the hierarchy).",
        extensions=needs("engineer"),
    )
    async def upsert_assets(self, info: Info, assets: list[AssetInput]) -> list[AssetNode]:
        _check_batch(assets, "assets")
        domain = [a.to_domain() for a in assets]
        await place_in_scope(info, domain)
        found = await info.context.services.registry.upsert_assets(domain)
        return [AssetNode.from_domain(found[a.id]) for a in domain]

    @strawberry.mutation(
        extensions=needs("engineer"),
        description="Delete an asset. With children, sensors, actuators or any history "
        "(maintenance, work orders, alerts, simulation runs, setpoint commands) it is refused "
        "(CONFLICT, naming what is attached) unless cascade: true, which removes its whole "
        "subtree and everything attached to it, the audit trail of setpoint commands "
        "included. Data sources stay, unbound; readings stay in the readings store.",
    )
    async def delete_asset(
        self, info: Info, id: strawberry.ID, cascade: bool = False
    ) -> DeleteResult:
        await assets_in_scope(info, [str(id)])
        ids = await info.context.services.registry.delete_asset(str(id), cascade=cascade)
        return DeleteResult(deleted_ids=[strawberry.ID(i) for i in ids])

    @strawberry.mutation(extensions=needs("engineer"))
    async def upsert_sensors(self, info: Info, sensors: list[SensorInput]) -> list[SensorNode]:
        _check_batch(sensors, "sensors")
        domain = [s.to_domain() for s in sensors]
        await sensors_in_scope(info, [s.id for s in domain], domain)
        await info.context.services.registry.upsert_sensors(domain)
        return [SensorNode.from_domain(s) for s in domain]

    @strawberry.mutation(
        extensions=needs("engineer"),
        description="Delete a sensor. With alerts or data source bindings it is refused "
        "(CONFLICT) unless cascade: true, which deletes its alerts and unbinds it. Its "
        "readings stay in the readings store.",
    )
    async def delete_sensor(
        self, info: Info, id: strawberry.ID, cascade: bool = False
    ) -> DeleteResult:
        await sensors_in_scope(info, [str(id)])
        await info.context.services.registry.delete_sensor(str(id), cascade=cascade)
        return DeleteResult(deleted_ids=[id])

    @strawberry.mutation(extensions=needs("engineer"))
    async def upsert_actuators(
        self, info: Info, actuators: list[ActuatorInput]
    ) -> list[ActuatorNode]:
        _check_batch(actuators, "actuators")
        domain = [x.to_domain() for x in actuators]
        await actuators_in_scope(info, [x.id for x in domain], domain)
        await info.context.services.registry.upsert_actuators(domain)
        return [ActuatorNode.from_domain(x) for x in domain]

    @strawberry.mutation(
        extensions=needs("engineer"),
        description="Delete an actuator. With setpoint commands or data source bindings it "
        "is refused (CONFLICT) unless cascade: true, which deletes its commands (the audit "
        "trail of writes to it) and unbinds it.",
    )
    async def delete_actuator(
        self, info: Info, id: strawberry.ID, cascade: bool = False
    ) -> DeleteResult:
        await actuators_in_scope(info, [str(id)])
        await info.context.services.registry.delete_actuator(str(id), cascade=cascade)
        return DeleteResult(deleted_ids=[id])

    @strawberry.mutation(
        description="Add process relations (idempotent).", extensions=needs("engineer")
    )
    async def connect_assets(self, info: Info, relations: list[RelationInput]) -> int:
        _check_batch(relations, "relations")
        domain = [r.to_domain() for r in relations]
        await relations_in_scope(info, domain)
        await info.context.services.registry.connect(domain)
        return len(relations)

    @strawberry.mutation(description="Remove one process relation.", extensions=needs("engineer"))
    async def disconnect_assets(self, info: Info, relation: RelationInput) -> bool:
        await relations_in_scope(info, [relation.to_domain()])
        await info.context.services.registry.disconnect(relation.to_domain())
        return True

    @strawberry.mutation(
        extensions=needs("operator"),
        description="Record maintenance events and work orders (idempotent by id).",
    )
    async def record_maintenance(
        self,
        info: Info,
        events: list[MaintenanceEventInput] | None = None,
        work_orders: list[WorkOrderInput] | None = None,
    ) -> MaintenanceResult:
        ev = [e.to_domain() for e in events or []]
        wo = [w.to_domain() for w in work_orders or []]
        _check_batch(ev, "events")
        await assets_in_scope(info, [*(e.asset_id for e in ev), *(w.asset_id for w in wo)])
        await info.context.services.registry.record_maintenance(ev, wo)
        return MaintenanceResult(
            events=[MaintenanceEventNode.from_domain(e) for e in ev],
            work_orders=[WorkOrderNode.from_domain(w) for w in wo],
        )

    @strawberry.mutation(
        description="Create or update a data source and its bindings.", extensions=needs("engineer")
    )
    async def upsert_data_source(
        self,
        info: Info,
        # Named ``source`` in GraphQL; not in Python, where the permission extension's
        # ``resolve(next_, source, info, **arguments)`` would take it for its own.
        data_source: Annotated[DataSourceInput, strawberry.argument(name="source")],
    ) -> DataSourceNode:
        whole_plant(info, "a data source")
        domain, sensors, actuators = data_source.to_domain()
        config = await info.context.services.registry.upsert_source(domain, sensors, actuators)
        return DataSourceNode.from_config(config)

    @strawberry.mutation(extensions=needs("engineer"))
    async def delete_data_source(self, info: Info, id: strawberry.ID) -> DeleteResult:
        whole_plant(info, "a data source")
        await info.context.services.registry.delete_source(str(id))
        return DeleteResult(deleted_ids=[id])
