"""The plant description's types: what a parsed plant file holds (see ``graph.plantfile``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from graph.model import (
    Actuator,
    ActuatorBinding,
    Asset,
    DataSource,
    MaintenanceEvent,
    Relation,
    Sensor,
    SensorBinding,
    WorkOrder,
)

__all__ = ["AssetSimSpec", "PlantDescription", "StateTarget", "StationSpec"]

StateTarget = str | tuple[str, float, float]
"""A model state/input name, or ``(name, scale, offset)``: value = scale * reading + offset."""


@dataclass(frozen=True, slots=True)
class AssetSimSpec:
    """How an asset is simulated: the model, its parameters, and which sensors/actuators
    feed which model states and inputs (scenarios start from the latest readings)."""

    asset_id: str
    model: str
    parameters: dict[str, float] = field(default_factory=dict, hash=False)
    state_map: dict[str, StateTarget] = field(default_factory=dict, hash=False)
    input_map: dict[str, StateTarget] = field(default_factory=dict, hash=False)
    output_map: dict[str, StateTarget] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class StationSpec:
    """A production-line station: cycle time (mean, coefficient of variation), failures
    (mean time between failures / to repair) and the buffer after it (0 = none)."""

    asset_id: str
    cycle_time_s: float
    cv: float = 0.0
    mtbf_h: float | None = None
    mttr_h: float | None = None
    buffer_id: str | None = None
    buffer_capacity: int = 0


@dataclass(frozen=True, slots=True)
class PlantDescription:
    """A parsed, validated plant: assets come parents first (by ISA-95 level)."""

    assets: tuple[Asset, ...]
    sensors: tuple[Sensor, ...] = ()
    actuators: tuple[Actuator, ...] = ()
    data_sources: tuple[DataSource, ...] = ()
    sensor_bindings: tuple[SensorBinding, ...] = ()
    actuator_bindings: tuple[ActuatorBinding, ...] = ()
    relations: tuple[Relation, ...] = ()
    maintenance: tuple[MaintenanceEvent, ...] = ()
    work_orders: tuple[WorkOrder, ...] = ()
    sims: tuple[AssetSimSpec, ...] = ()
    stations: tuple[StationSpec, ...] = ()
    name: str = ""
    description: str = ""

    def counts(self) -> dict[str, int]:
        names: tuple[str, ...]
        names = ("assets", "sensors", "actuators", "data_sources", "sensor_bindings")
        names += ("actuator_bindings", "relations", "maintenance", "work_orders", "sims")
        return {n: len(getattr(self, n)) for n in (*names, "stations")}

    def same_content(self, other: PlantDescription) -> bool:
        """Equal entities, whatever their order (``==`` also compares the order)."""
        return all(set(getattr(self, n)) == set(getattr(other, n)) for n in self.counts()) and (
            self.name,
            self.description,
        ) == (other.name, other.description)

    def summary(self) -> dict[str, object]:
        """A JSON-ready overview (what ``twinql load --check`` prints)."""
        levels: dict[str, int] = {}
        for a in self.assets:
            levels[a.level.value] = levels.get(a.level.value, 0) + 1
        bound: dict[str, int] = {}
        bindings: tuple[SensorBinding | ActuatorBinding, ...]
        bindings = (*self.sensor_bindings, *self.actuator_bindings)
        for b in bindings:
            bound[b.source_id] = bound.get(b.source_id, 0) + 1
        models: dict[str, int] = {}
        for m in self.sims:
            models[m.model] = models.get(m.model, 0) + 1
        return {
            "name": self.name,
            "counts": self.counts(),
            "assets_by_level": levels,
            "data_sources": [
                {
                    "id": d.id,
                    "protocol": d.protocol.value,
                    "endpoint": d.endpoint,
                    "bindings": bound.get(d.id, 0),
                }
                for d in self.data_sources
            ],
            "sim_models": models,
        }
