"""The registry service: every write to the registry goes through here, then one typed
``RegistryChange`` is published to the listeners (the connector manager, the pipeline's
sensor cache, live subscription scopes).

A listener that fails is logged and never fails the write: the write is already committed,
and the listeners' own periodic resync (connectors) or TTL (sensor cache) catches up.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from graph.bolt.importer import ImportReport, import_plant
from graph.bolt.repository import GraphRepository
from graph.bolt.sources import SourceConfig
from graph.changes import RegistryChange, RegistryKind, RegistryListener
from graph.errors import ValidationError
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
from graph.plantfile import PlantDescription

__all__ = ["RegistryService"]

log = logging.getLogger(__name__)

K = RegistryKind


class RegistryService:
    """Registry writes and their change notices."""

    def __init__(self, graph: GraphRepository) -> None:
        self._graph = graph
        self._listeners: list[RegistryListener] = []

    # --- listeners ---------------------------------------------------------------------

    def listen(self, listener: RegistryListener) -> None:
        self._listeners.append(listener)

    def unlisten(self, listener: RegistryListener) -> None:
        self._listeners.remove(listener)

    async def publish(self, change: RegistryChange) -> None:
        """Tell every listener; for writes made elsewhere (``twinql load``, the demo)."""
        for listener in list(self._listeners):
            try:
                await listener(change)
            except Exception:
                log.exception("registry listener %r failed on %s", listener, sorted(change.kinds))

    # --- writes ------------------------------------------------------------------------

    async def import_plant(self, plant: PlantDescription, *, publish: bool = True) -> ImportReport:
        """A whole plant, one transaction. ``publish=False`` defers the change notice to
        the caller (the demo first starts the devices the plant's data sources name)."""
        report = await import_plant(self._graph, plant)
        if publish:
            await self.publish(RegistryChange.everything())
        return report

    async def upsert_assets(self, assets: Sequence[Asset]) -> dict[str, Asset]:
        await self._graph.assets.upsert(list(assets))
        await self.publish(RegistryChange.of(K.ASSETS))
        return await self._graph.assets.get_many([a.id for a in assets])

    async def delete_asset(self, asset_id: str, *, cascade: bool) -> list[str]:
        ids = await self._graph.assets.delete(asset_id, cascade=cascade)
        await self.publish(RegistryChange.everything())
        return ids

    async def set_sim_spec(self, asset_id: str, spec: dict[str, object]) -> None:
        """The asset's simulation spec (a calibration stores its fitted parameters)."""
        await self._graph.assets.set_sim_spec(asset_id, spec)
        await self.publish(RegistryChange.of(K.ASSETS))

    async def upsert_sensors(self, sensors: Sequence[Sensor]) -> None:
        await self._graph.devices.upsert_sensors(list(sensors))
        await self.publish(RegistryChange.of(K.SENSORS))

    async def delete_sensor(self, sensor_id: str, *, cascade: bool) -> None:
        await self._graph.devices.delete_sensor(sensor_id, cascade=cascade)
        await self.publish(RegistryChange.of(K.SENSORS))

    async def upsert_actuators(self, actuators: Sequence[Actuator]) -> None:
        await self._graph.devices.upsert_actuators(list(actuators))
        await self.publish(RegistryChange.of(K.ACTUATORS))

    async def delete_actuator(self, actuator_id: str, *, cascade: bool) -> None:
        await self._graph.devices.delete_actuator(actuator_id, cascade=cascade)
        await self.publish(RegistryChange.of(K.ACTUATORS))

    async def connect(self, relations: Sequence[Relation]) -> None:
        await self._graph.topology.connect(list(relations))
        await self.publish(RegistryChange.of(K.RELATIONS))

    async def disconnect(self, relation: Relation) -> None:
        await self._graph.topology.disconnect(relation)
        await self.publish(RegistryChange.of(K.RELATIONS))

    async def record_maintenance(
        self, events: Sequence[MaintenanceEvent], work_orders: Sequence[WorkOrder]
    ) -> None:
        await self._graph.maintenance.record(list(events), list(work_orders))
        await self.publish(RegistryChange.of(K.MAINTENANCE))

    async def upsert_source(
        self,
        source: DataSource,
        sensors: Sequence[SensorBinding],
        actuators: Sequence[ActuatorBinding],
    ) -> SourceConfig:
        """One data source with its bindings; every bound sensor and actuator must exist."""
        devices = self._graph.devices
        known_s = await devices.sensors([b.sensor_id for b in sensors])
        known_a = await devices.actuators([b.actuator_id for b in actuators])
        missing = [b.sensor_id for b in sensors if b.sensor_id not in known_s] + [
            b.actuator_id for b in actuators if b.actuator_id not in known_a
        ]
        if missing:
            raise ValidationError(f"unknown sensors/actuators in bindings: {', '.join(missing)}")
        await self._graph.sources.upsert([source], list(sensors), list(actuators))
        await self.publish(RegistryChange.of(K.SOURCES))
        (config,) = await self._graph.sources.configs([source.id])
        return config

    async def upsert_sources(self, sources: Sequence[DataSource]) -> None:
        await self._graph.sources.upsert(list(sources))
        await self.publish(RegistryChange.of(K.SOURCES))

    async def delete_source(self, source_id: str) -> None:
        await self._graph.sources.delete(source_id)
        await self.publish(RegistryChange.of(K.SOURCES))
