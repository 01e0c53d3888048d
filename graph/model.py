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

from graph.errors import Conflict, ValidationError

__all__ = [
    "ACTUATOR_ROLES",
    "RENEWING_KINDS",
    "Actuator",
    "ActuatorBinding",
    "Asset",
    "AssetLevel",
    "DataSource",
    "MaintenanceEvent",
    "MaintenanceKind",
    "DeviceProtocol",
    "Relation",
    "RelationType",
    "Sensor",
    "SensorBinding",
    "WorkOrder",
    "WorkOrderStatus",
    "check_id",
    "check_transition",
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


def _g(value: float | None) -> str:
    return "none" if value is None else f"{value:g}"


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
    """open -> in_progress -> done | cancelled (an open order may be cancelled too).

    ``open`` and ``in_progress`` are active: an asset has at most one active order
    opened by its health assessments."""

    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS)

    def may_become(self, new: WorkOrderStatus) -> bool:
        """Whether an order in this status may move to ``new`` (staying put: yes)."""
        return new == self or new in _NEXT_STATUS[self]


_NEXT_STATUS: dict[WorkOrderStatus, tuple[WorkOrderStatus, ...]] = {
    WorkOrderStatus.OPEN: (WorkOrderStatus.IN_PROGRESS, WorkOrderStatus.CANCELLED),
    WorkOrderStatus.IN_PROGRESS: (WorkOrderStatus.DONE, WorkOrderStatus.CANCELLED),
    WorkOrderStatus.DONE: (),
    WorkOrderStatus.CANCELLED: (),
}


def check_transition(order_id: str, old: WorkOrderStatus, new: WorkOrderStatus) -> None:
    """Raise Conflict unless a work order may go from ``old`` to ``new`` (same: a no-op)."""
    if not old.may_become(new):
        allowed = ", ".join(s.value for s in _NEXT_STATUS[old]) or "none (it is closed)"
        raise Conflict(
            f"work order {order_id} cannot go from {old.value} to {new.value}; "
            f"allowed from {old.value}: {allowed}",
            details={"from": old.value, "to": new.value},
        )


class MaintenanceKind(StrEnum):
    """What a maintenance event records. ``failure`` and ``replacement`` renew the asset:
    its life clock (the age remaining-useful-life models count) restarts at them.

    - ``failure``: the asset failed (tripped at a failure limit, broke down) and was
      restored; the fleet's recorded failures are what life models learn from.
    - ``replacement``: the asset, or the wearing part that limits its life, was replaced.
    - ``repair``: corrective work after a fault, short of a renewal.
    - ``inspection`` / ``check``: looking, measuring, test runs (a check is the short one).
    - ``preventive``: scheduled preventive work (servicing, overhaul by the plan).
    - ``calibration``, ``lubrication``: instrument calibration; regreasing, oil change.
    - ``bearing_replacement``, ``seal_replacement``, ``filter_replacement``: a component
      renewed; the asset's life clock keeps running (record ``replacement`` when the
      part is the one whose wear ends the asset's life).
    """

    FAILURE = "failure"
    REPLACEMENT = "replacement"
    REPAIR = "repair"
    INSPECTION = "inspection"
    CHECK = "check"
    PREVENTIVE = "preventive"
    CALIBRATION = "calibration"
    LUBRICATION = "lubrication"
    BEARING_REPLACEMENT = "bearing_replacement"
    SEAL_REPLACEMENT = "seal_replacement"
    FILTER_REPLACEMENT = "filter_replacement"

    @property
    def renews(self) -> bool:
        """Whether the asset's life clock restarts at this event."""
        return self in RENEWING_KINDS

    @classmethod
    def parse(cls, value: object) -> MaintenanceKind:
        """The kind named ``value``; a VALIDATION error listing the kinds otherwise."""
        if isinstance(value, MaintenanceKind):
            return value
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return cls(value)
        except ValueError:
            kinds = ", ".join(k.value for k in cls)
            raise ValidationError(
                f"maintenance kind must be one of {kinds}, got {value!r}",
                details={"allowed": [k.value for k in cls]},
            ) from None


RENEWING_KINDS = frozenset({MaintenanceKind.FAILURE, MaintenanceKind.REPLACEMENT})


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
    fail_low: float | None = None  # failure limits: the asset trips or is failed there
    fail_high: float | None = None

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
        self._check_fail_limits()
        if self.sampling_rate_seconds is not None and not self.sampling_rate_seconds > 0:
            raise ValidationError("samplingRateSeconds must be positive")

    def _check_fail_limits(self) -> None:
        """min <= fail_low <= warn_low <= warn_high <= fail_high <= max, where given."""
        lo, hi = self.fail_low, self.fail_high
        for v in (lo, hi):
            if v is not None and (not isinstance(v, int | float) or not math.isfinite(v)):
                raise ValidationError(f"sensor {self.id} failure limits must be finite numbers")
        if lo is not None and hi is not None and lo >= hi:
            raise ValidationError(
                f"sensor {self.id} fail_low {_g(lo)} must be below fail_high {_g(hi)}",
                details={"field": "fail_low"},
            )
        for name, level in (("fail_low", self.fail_low), ("fail_high", self.fail_high)):
            if level is not None and not self.in_range(level):
                raise ValidationError(
                    f"sensor {self.id} {name} {_g(level)} lies outside its range "
                    f"[{_g(self.min_value)}, {_g(self.max_value)}]: a failure limit must be measurable",
                    details={"field": name},
                )
        warns = [w for w in (self.warn_low, self.warn_high) if w is not None]
        if self.fail_low is not None and warns and self.fail_low > min(warns):
            raise ValidationError(
                f"sensor {self.id} fail_low {_g(self.fail_low)} is above its warning level "
                f"{_g(min(warns))}: warnings come before failure (fail_low <= warn_low)",
                details={"field": "fail_low"},
            )
        if self.fail_high is not None and warns and self.fail_high < max(warns):
            raise ValidationError(
                f"sensor {self.id} fail_high {_g(self.fail_high)} is below its warning level "
                f"{_g(max(warns))}: warnings come before failure (warn_high <= fail_high)",
                details={"field": "fail_high"},
            )

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
    kind: MaintenanceKind
    at: datetime
    description: str = ""
    technician: str = ""
    cost: float | None = None
    downtime_minutes: float | None = None
    work_order_id: str | None = None

    def __post_init__(self) -> None:
        check_id(self.id, "maintenance event id")
        check_id(self.asset_id, "asset id")
        object.__setattr__(self, "kind", MaintenanceKind.parse(self.kind))
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
    note: str = ""  # the latest status change's note
    updated_at: datetime | None = None
    assessment_id: str | None = None  # the health assessment that opened it

    def __post_init__(self) -> None:
        check_id(self.id, "work order id")
        _check_description(self.reason, "work order reason")
        _check_description(self.note, "work order note")
        if self.assessment_id is not None:
            check_id(self.assessment_id, "assessment id")
        check_id(self.asset_id, "asset id")
        if not isinstance(self.status, WorkOrderStatus):
            try:
                object.__setattr__(self, "status", WorkOrderStatus(self.status))
            except ValueError:
                names = ", ".join(s.value for s in WorkOrderStatus)
                raise ValidationError(f"status must be one of {names}") from None
        if not isinstance(self.priority, int) or not 1 <= self.priority <= 5:
            raise ValidationError("work order priority must be an integer from 1 to 5")
