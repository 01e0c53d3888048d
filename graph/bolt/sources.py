"""Data sources and their bindings to sensors and actuators."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from graph.bolt import rows as _rows
from graph.bolt.client import GraphClient, Tx
from graph.bolt.cypher import sources as q
from graph.errors import NotFound
from graph.model import ActuatorBinding, DataSource, SensorBinding
from graph.timeutil import iso, utcnow

__all__ = ["SourceConfig", "SourceRepository"]


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """Everything a connector needs: the source, its bindings, whose points they are, and
    the sampling rate registered for a sensor (``sensor_sampling_s``, where one is)."""

    source: DataSource
    sensors: tuple[SensorBinding, ...]
    actuators: tuple[ActuatorBinding, ...]
    sensor_asset: dict[str, str]
    actuator_asset: dict[str, str]
    sensor_sampling_s: dict[str, float] = field(default_factory=dict)


class SourceRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def upsert(
        self,
        sources: Sequence[DataSource],
        sensor_bindings: Sequence[SensorBinding] = (),
        actuator_bindings: Sequence[ActuatorBinding] = (),
    ) -> None:
        await self._client.write_tx(
            lambda tx: self.upsert_in(tx, sources, sensor_bindings, actuator_bindings)
        )

    async def upsert_in(
        self,
        tx: Tx,
        sources: Sequence[DataSource],
        sensor_bindings: Sequence[SensorBinding] = (),
        actuator_bindings: Sequence[ActuatorBinding] = (),
    ) -> None:
        if sources:
            await tx.batched_now(
                q.UPSERT_SOURCES, [_rows.source_row(d) for d in sources], iso(utcnow())
            )
        await tx.batched(q.BIND_SENSORS, [_rows.sensor_binding_row(b) for b in sensor_bindings])
        await tx.batched(
            q.BIND_ACTUATORS, [_rows.actuator_binding_row(b) for b in actuator_bindings]
        )

    async def all(self) -> list[DataSource]:
        return [_rows.source_from(r) for r in await self._client.read(q.LIST_SOURCES)]

    async def get(self, source_id: str) -> DataSource:
        rows = await self._client.read(q.GET_SOURCES, ids=[source_id])
        if not rows:
            raise NotFound(f"data source {source_id} not found")
        return _rows.source_from(rows[0])

    async def configs(self, source_ids: Iterable[str] | None = None) -> list[SourceConfig]:
        """Sources with their bindings, in three queries whatever their number."""

        async def work(tx: Tx) -> list[SourceConfig]:
            if source_ids is None:
                srows = await tx.rows(q.LIST_SOURCES)
            else:
                srows = await tx.rows(q.GET_SOURCES, ids=list(source_ids))
            ids = [r["id"] for r in srows]
            brows = await tx.rows(q.SENSOR_BINDINGS, ids=ids)
            arows = await tx.rows(q.ACTUATOR_BINDINGS, ids=ids)
            by_source: dict[str, tuple[list[dict], list[dict]]] = {i: ([], []) for i in ids}
            for b in brows:
                by_source[b["sourceId"]][0].append(b)
            for b in arows:
                by_source[b["sourceId"]][1].append(b)
            out = []
            for r in srows:
                sb, ab = by_source[r["id"]]
                out.append(
                    SourceConfig(
                        source=_rows.source_from(r),
                        sensors=tuple(_rows.sensor_binding_from(b) for b in sb),
                        actuators=tuple(_rows.actuator_binding_from(b) for b in ab),
                        sensor_asset={b["sensorId"]: b["assetId"] for b in sb},
                        actuator_asset={b["actuatorId"]: b["assetId"] for b in ab},
                        sensor_sampling_s={
                            b["sensorId"]: float(b["samplingRateSeconds"])
                            for b in sb
                            if b.get("samplingRateSeconds") is not None
                        },
                    )
                )
            return out

        return await self._client.read_tx(work)

    async def binding_of_actuator(self, actuator_id: str) -> ActuatorBinding | None:
        rows = await self._client.read(q.BINDING_OF_ACTUATOR, ids=[actuator_id])
        return _rows.actuator_binding_from(rows[0]) if rows else None

    async def delete(self, source_id: str) -> None:
        async def work(tx: Tx) -> None:
            if not await tx.rows(q.GET_SOURCES, ids=[source_id]):
                raise NotFound(f"data source {source_id} not found")
            await tx.run(q.DELETE_SOURCES, ids=[source_id])

        await self._client.write_tx(work)
