"""GraphQL input types and their conversion to domain objects."""

from __future__ import annotations

from datetime import datetime

import strawberry

from api.common.types import (
    JSON,
    AssetLevelEnum,
    ProtocolEnum,
    RelationTypeEnum,
    WorkOrderStatusEnum,
)
from graph import model as m
from graph.errors import ValidationError
from graph.timeutil import utcnow


@strawberry.input
class AssetInput:
    id: strawberry.ID
    name: str
    type: str
    level: AssetLevelEnum
    parent_id: strawberry.ID | None = None
    description: str = ""
    lat: float | None = None
    lon: float | None = None
    metadata: JSON | None = None

    def to_domain(self) -> m.Asset:
        if self.metadata is not None and not isinstance(self.metadata, dict):
            raise ValidationError(f"asset {self.id}: metadata must be a JSON object")
        return m.Asset(
            id=str(self.id),
            name=self.name,
            type=self.type,
            level=m.AssetLevel(self.level.value),
            parent_id=str(self.parent_id) if self.parent_id else None,
            description=self.description,
            lat=self.lat,
            lon=self.lon,
            metadata=dict(self.metadata or {}),
        )


@strawberry.input
class SensorInput:
    id: strawberry.ID
    asset_id: strawberry.ID
    name: str
    kind: str
    unit: str
    min_value: float | None = None
    max_value: float | None = None
    sampling_rate_seconds: float | None = None
    warn_low: float | None = None
    warn_high: float | None = None
    fail_low: float | None = strawberry.field(
        default=None, description="Failure limit: minValue <= failLow <= warnLow."
    )
    fail_high: float | None = strawberry.field(
        default=None, description="Failure limit: warnHigh <= failHigh <= maxValue."
    )

    def to_domain(self) -> m.Sensor:
        return m.Sensor(
            id=str(self.id),
            asset_id=str(self.asset_id),
            name=self.name,
            kind=self.kind,
            unit=self.unit,
            min_value=self.min_value,
            max_value=self.max_value,
            sampling_rate_seconds=self.sampling_rate_seconds,
            warn_low=self.warn_low,
            warn_high=self.warn_high,
            fail_low=self.fail_low,
            fail_high=self.fail_high,
        )


@strawberry.input
class ActuatorInput:
    id: strawberry.ID
    asset_id: strawberry.ID
    name: str
    unit: str
    min_value: float
    max_value: float

    def to_domain(self) -> m.Actuator:
        return m.Actuator(
            id=str(self.id),
            asset_id=str(self.asset_id),
            name=self.name,
            unit=self.unit,
            min_value=self.min_value,
            max_value=self.max_value,
        )


@strawberry.input
class RelationInput:
    source_id: strawberry.ID
    target_id: strawberry.ID
    type: RelationTypeEnum

    def to_domain(self) -> m.Relation:
        return m.Relation(str(self.source_id), str(self.target_id), m.RelationType(self.type.value))


@strawberry.input
class MaintenanceEventInput:
    id: strawberry.ID
    asset_id: strawberry.ID
    kind: str = strawberry.field(
        description="One of " + ", ".join(k.value for k in m.MaintenanceKind) + ": a failure "
        "or replacement restarts the asset's life clock."
    )
    at: datetime
    description: str = ""
    technician: str = ""
    cost: float | None = None
    downtime_minutes: float | None = None
    work_order_id: strawberry.ID | None = None

    def to_domain(self) -> m.MaintenanceEvent:
        return m.MaintenanceEvent(
            id=str(self.id),
            asset_id=str(self.asset_id),
            kind=m.MaintenanceKind.parse(self.kind),
            at=self.at,
            description=self.description,
            technician=self.technician,
            cost=self.cost,
            downtime_minutes=self.downtime_minutes,
            work_order_id=str(self.work_order_id) if self.work_order_id else None,
        )


@strawberry.input
class WorkOrderInput:
    id: strawberry.ID
    asset_id: strawberry.ID
    status: WorkOrderStatusEnum
    priority: int
    created_at: datetime | None = None
    due_at: datetime | None = None
    reason: str = ""

    def to_domain(self) -> m.WorkOrder:
        return m.WorkOrder(
            id=str(self.id),
            asset_id=str(self.asset_id),
            status=m.WorkOrderStatus(self.status.value),
            priority=self.priority,
            created_at=self.created_at or utcnow(),
            due_at=self.due_at,
            reason=self.reason,
        )


@strawberry.input
class SensorBindingInput:
    sensor_id: strawberry.ID
    address: str
    scale: float = 1.0
    offset: float = 0.0
    data_type: str = "float32"


@strawberry.input
class ActuatorBindingInput:
    actuator_id: strawberry.ID
    address: str
    data_type: str = "float32"
    scale: float = 1.0
    offset: float = 0.0


@strawberry.input
class DataSourceInput:
    id: strawberry.ID
    protocol: ProtocolEnum
    endpoint: str
    name: str = ""
    settings: JSON | None = None
    sensor_bindings: list[SensorBindingInput] = strawberry.field(default_factory=list)
    actuator_bindings: list[ActuatorBindingInput] = strawberry.field(default_factory=list)

    def to_domain(
        self,
    ) -> tuple[m.DataSource, list[m.SensorBinding], list[m.ActuatorBinding]]:
        if self.settings is not None and not isinstance(self.settings, dict):
            raise ValidationError(f"data source {self.id}: settings must be a JSON object")
        sid = str(self.id)
        source = m.DataSource(
            id=sid,
            protocol=m.DeviceProtocol(self.protocol.value),
            endpoint=self.endpoint,
            name=self.name,
            settings=dict(self.settings or {}),
        )
        sensors = [
            m.SensorBinding(sid, str(b.sensor_id), b.address, b.scale, b.offset, b.data_type)
            for b in self.sensor_bindings
        ]
        actuators = [
            m.ActuatorBinding(sid, str(b.actuator_id), b.address, b.data_type, b.scale, b.offset)
            for b in self.actuator_bindings
        ]
        return source, sensors, actuators
