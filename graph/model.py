"""Domain types of the knowledge graph.

Frozen, slotted dataclasses validated in ``__post_init__``. They import nothing from
neo4j, strawberry or any other I/O library: adapters turn rows into these, and the API
turns these into GraphQL types.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from graph.errors import ValidationError

__all__ = [
    "ACTUATOR_ROLES",
    "Actuator",
    "ActuatorBinding",
    "Asset",
    "AssetLevel",
    "DataSource",
    "MaintenanceEvent",
    "DeviceProtocol",
    "Relation",
    "RelationType",
    "Sensor",
    "SensorBinding",
    "WorkOrder",
    "WorkOrderStatus",
    "check_id",
]

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")


def check_id(value: object, what: str = "id") -> str:
    """Business ids: 1-128 chars of letters, digits, ``_ . : -``, starting alphanumeric."""
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ValidationError(
            f"{what} must be 1-128 characters of letters, digits, '_', '.', ':' or '-' "
            f"starting with a letter or digit, got {value!r}"
        )
    return value


def _check_name(value: object, what: str) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > 256:
        raise ValidationError(f"{what} must be a non-empty string of at most 256 characters")


MAX_DESCRIPTION = 10_000  # characters; far larger strings stall the embedded graph server


def _check_description(value: object, what: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise ValidationError(f"{what} must be a string of at most {MAX_DESCRIPTION} characters")


def _check_limits(lo: float | None, hi: float | None, what: str) -> None:
    for v in (lo, hi):
        if v is not None and (not isinstance(v, int | float) or not math.isfinite(v)):
            raise ValidationError(f"{what} limits must be finite numbers, got {v!r}")
    if lo is not None and hi is not None and lo > hi:
        raise ValidationError(f"{what} minValue {lo} is above maxValue {hi}")


def _check_scale(scale: float, offset: float, what: str) -> None:
    for name, v in (("scale", scale), ("offset", offset)):
        if not isinstance(v, int | float) or not math.isfinite(v):
            raise ValidationError(f"{what} {name} must be a finite number, got {v!r}")
    if scale == 0:
        raise ValidationError(f"{what} scale cannot be 0")


class AssetLevel(StrEnum):
    """ISA-95 levels, outermost first."""

    ENTERPRISE = "enterprise"
    SITE = "site"
    AREA = "area"
    LINE = "line"
    UNIT = "unit"
    EQUIPMENT = "equipment"
    COMPONENT = "component"

    @property
    def rank(self) -> int:
        return _LEVEL_RANK[self]


_LEVEL_RANK = {level: i for i, level in enumerate(AssetLevel)}


class RelationType(StrEnum):
    """Process relations between assets (the hierarchy is PART_OF, kept apart)."""

    FEEDS = "FEEDS"
    DEPENDS_ON = "DEPENDS_ON"
    CONNECTED_TO = "CONNECTED_TO"


class DeviceProtocol(StrEnum):
    MQTT = "mqtt"
    OPCUA = "opcua"
    MODBUS = "modbus"
    HTTP = "http"


class WorkOrderStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"


ACTUATOR_ROLES = ("operator", "admin")


@dataclass(frozen=True, slots=True)
class Asset:
    id: str
    name: str
    type: str
    level: AssetLevel
    parent_id: str | None = None
    description: str = ""
    lat: float | None = None
    lon: float | None = None
    metadata: dict[str, object] = field(default_factory=dict, hash=False, compare=False)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "asset id")
        _check_name(self.name, "asset name")
        _check_name(self.type, "asset type")
        _check_description(self.description, "asset description")
        if not isinstance(self.level, AssetLevel):
            try:
                object.__setattr__(self, "level", AssetLevel(self.level))
            except ValueError:
                levels = ", ".join(level.value for level in AssetLevel)
                raise ValidationError(
                    f"asset level must be one of {levels}, got {self.level!r}"
                ) from None
        if self.parent_id is not None:
            check_id(self.parent_id, "parent id")
            if self.parent_id == self.id:
                raise ValidationError(f"asset {self.id} cannot be its own parent")
        if self.lat is not None and not -90 <= self.lat <= 90:
            raise ValidationError(f"lat must be within [-90, 90], got {self.lat}")
        if self.lon is not None and not -180 <= self.lon <= 180:
            raise ValidationError(f"lon must be within [-180, 180], got {self.lon}")


@dataclass(frozen=True, slots=True)
class Sensor:
    id: str
    asset_id: str
    name: str
    kind: str
    unit: str
    min_value: float | None = None
    max_value: float | None = None
    sampling_rate_seconds: float | None = None
    warn_low: float | None = None  # alarm levels, inside the measuring range
    warn_high: float | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "sensor id")
        check_id(self.asset_id, "asset id")
        _check_name(self.name, "sensor name")
        _check_name(self.kind, "sensor kind")
        if not isinstance(self.unit, str):
            raise ValidationError("sensor unit must be a string")
        _check_limits(self.min_value, self.max_value, f"sensor {self.id}")
        _check_limits(self.warn_low, self.warn_high, f"sensor {self.id} warning")
        for name, level in (("warn_low", self.warn_low), ("warn_high", self.warn_high)):
            if level is not None and not self.in_range(level):
                raise ValidationError(
                    f"sensor {self.id} {name} {level} lies outside its range "
                    f"[{self.min_value}, {self.max_value}]"
                )
        if self.sampling_rate_seconds is not None and not self.sampling_rate_seconds > 0:
            raise ValidationError("samplingRateSeconds must be positive")

    def in_range(self, value: float) -> bool:
        lo, hi = self.min_value, self.max_value
        return (lo is None or value >= lo) and (hi is None or value <= hi)


@dataclass(frozen=True, slots=True)
class Actuator:
    id: str
    asset_id: str
    name: str
    unit: str
    min_value: float
    max_value: float

    def __post_init__(self) -> None:
        check_id(self.id, "actuator id")
        check_id(self.asset_id, "asset id")
        _check_name(self.name, "actuator name")
        if self.min_value is None or self.max_value is None:
            raise ValidationError(f"actuator {self.id} needs minValue and maxValue")
        _check_limits(self.min_value, self.max_value, f"actuator {self.id}")

    def check_value(self, value: float) -> None:
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise ValidationError(f"setpoint for {self.id} must be a finite number")
        if not self.min_value <= value <= self.max_value:
            raise ValidationError(
                f"setpoint {value} {self.unit} for {self.id} is outside its limits "
                f"[{self.min_value}, {self.max_value}]"
            )


@dataclass(frozen=True, slots=True)
class DataSource:
    """A device connection; its addressing lives on the bindings."""

    id: str
    protocol: DeviceProtocol
    endpoint: str
    name: str = ""
    settings: dict[str, object] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        check_id(self.id, "data source id")
        if not isinstance(self.protocol, DeviceProtocol):
            try:
                object.__setattr__(self, "protocol", DeviceProtocol(self.protocol))
            except ValueError:
                names = ", ".join(p.value for p in DeviceProtocol)
                raise ValidationError(
                    f"protocol must be one of {names}, got {self.protocol!r}"
                ) from None
        if not isinstance(self.endpoint, str):
            raise ValidationError("data source endpoint must be a string")


@dataclass(frozen=True, slots=True)
class SensorBinding:
    """``(:DataSource)-[:FEEDS_SENSOR {address, scale, offset, dataType}]->(:Sensor)``."""

    source_id: str
    sensor_id: str
    address: str
    scale: float = 1.0
    offset: float = 0.0
    data_type: str = "float32"

    def __post_init__(self) -> None:
        check_id(self.source_id, "data source id")
        check_id(self.sensor_id, "sensor id")
        if not isinstance(self.address, str) or not self.address:
            raise ValidationError(f"binding of {self.sensor_id} needs an address")
        _check_scale(self.scale, self.offset, f"binding of {self.sensor_id}")


@dataclass(frozen=True, slots=True)
class ActuatorBinding:
    """``(:DataSource)-[:DRIVES {address, dataType}]->(:Actuator)``."""

    source_id: str
    actuator_id: str
    address: str
    data_type: str = "float32"
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        check_id(self.source_id, "data source id")
        check_id(self.actuator_id, "actuator id")
        if not isinstance(self.address, str) or not self.address:
            raise ValidationError(f"binding of {self.actuator_id} needs an address")
        _check_scale(self.scale, self.offset, f"binding of {self.actuator_id}")


@dataclass(frozen=True, slots=True)
class Relation:
    source_id: str
    target_id: str
    type: RelationType

    def __post_init__(self) -> None:
        check_id(self.source_id, "relation source")
        check_id(self.target_id, "relation target")
        if not isinstance(self.type, RelationType):
            try:
                object.__setattr__(self, "type", RelationType(self.type))
            except ValueError:
                names = ", ".join(t.value for t in RelationType)
                raise ValidationError(
                    f"relation type must be one of {names}, got {self.type!r}"
                ) from None
        if self.source_id == self.target_id:
            raise ValidationError(f"relation from {self.source_id} to itself")


@dataclass(frozen=True, slots=True)
class MaintenanceEvent:
    id: str
    asset_id: str
    kind: str
    at: datetime
    description: str = ""
    technician: str = ""
    cost: float | None = None
    downtime_minutes: float | None = None
    work_order_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "maintenance event id")
        check_id(self.asset_id, "asset id")
        _check_name(self.kind, "maintenance kind")
        _check_description(self.description, "maintenance description")
        if not isinstance(self.at, datetime) or self.at.tzinfo is None:
            raise ValidationError("maintenance 'at' must be a timezone-aware datetime")
        if self.cost is not None and self.cost < 0:
            raise ValidationError("maintenance cost cannot be negative")
        if self.downtime_minutes is not None and self.downtime_minutes < 0:
            raise ValidationError("downtimeMinutes cannot be negative")


@dataclass(frozen=True, slots=True)
class WorkOrder:
    id: str
    asset_id: str
    status: WorkOrderStatus
    priority: int
    created_at: datetime
    reason: str = ""
    due_at: datetime | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "work order id")
        check_id(self.asset_id, "asset id")
        if not isinstance(self.status, WorkOrderStatus):
            try:
                object.__setattr__(self, "status", WorkOrderStatus(self.status))
            except ValueError:
                names = ", ".join(s.value for s in WorkOrderStatus)
                raise ValidationError(f"status must be one of {names}") from None
        if not isinstance(self.priority, int) or not 1 <= self.priority <= 5:
            raise ValidationError("work order priority must be an integer from 1 to 5")
