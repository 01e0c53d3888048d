"""Sensors and actuators of assets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import LiteralString

from graph.bolt import rows as _rows
from graph.bolt.blockers import DeleteBlockers
from graph.bolt.client import GraphClient, Tx
from graph.bolt.cypher import assets as qa
from graph.bolt.cypher import devices as q
from graph.errors import NotFound, ValidationError
from graph.model import Actuator, Sensor
from graph.timeutil import iso, utcnow

__all__ = ["DeviceRepository"]


class DeviceRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def upsert_sensors(self, sensors: Sequence[Sensor]) -> None:
        await self._client.write_tx(lambda tx: self.upsert_sensors_in(tx, sensors))

    async def upsert_sensors_in(
        self, tx: Tx, sensors: Sequence[Sensor], *, checked: bool = False
    ) -> None:
        if not sensors:
            return
        if not checked:
            await _require_assets(tx, {s.asset_id for s in sensors})
            _unique(s.id for s in sensors)
        rows = [_rows.sensor_row(s) for s in sensors]
        await tx.batched(q.DETACH_SENSORS_FROM_OTHER_ASSETS, rows)
        await tx.batched_now(q.UPSERT_SENSORS, rows, iso(utcnow()))

    async def upsert_actuators(self, actuators: Sequence[Actuator]) -> None:
        await self._client.write_tx(lambda tx: self.upsert_actuators_in(tx, actuators))

    async def upsert_actuators_in(
        self, tx: Tx, actuators: Sequence[Actuator], *, checked: bool = False
    ) -> None:
        if not actuators:
            return
        if not checked:
            await _require_assets(tx, {x.asset_id for x in actuators})
            _unique(x.id for x in actuators)
        rows = [_rows.actuator_row(x) for x in actuators]
        await tx.batched(q.DETACH_ACTUATORS_FROM_OTHER_ASSETS, rows)
        await tx.batched_now(q.UPSERT_ACTUATORS, rows, iso(utcnow()))

    async def sensors_of(self, asset_ids: Iterable[str]) -> dict[str, list[Sensor]]:
        ids = list(dict.fromkeys(asset_ids))
        out: dict[str, list[Sensor]] = {aid: [] for aid in ids}
        if ids:
            for r in await self._client.read(q.SENSORS_BY_ASSET, ids=ids):
                out[r["assetId"]].append(_rows.sensor_from(r))
        return out

    async def actuators_of(self, asset_ids: Iterable[str]) -> dict[str, list[Actuator]]:
        ids = list(dict.fromkeys(asset_ids))
        out: dict[str, list[Actuator]] = {aid: [] for aid in ids}
        if ids:
            for r in await self._client.read(q.ACTUATORS_BY_ASSET, ids=ids):
                out[r["assetId"]].append(_rows.actuator_from(r))
        return out

    async def sensors(self, ids: Iterable[str]) -> dict[str, Sensor]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        return {
            r["id"]: _rows.sensor_from(r) for r in await self._client.read(q.GET_SENSORS, ids=ids)
        }

    async def sensor(self, sensor_id: str) -> Sensor:
        found = await self.sensors([sensor_id])
        if sensor_id not in found:
            raise NotFound(f"sensor {sensor_id} not found")
        return found[sensor_id]

    async def actuators(self, ids: Iterable[str]) -> dict[str, Actuator]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        rows = await self._client.read(q.GET_ACTUATORS, ids=ids)
        return {r["id"]: _rows.actuator_from(r) for r in rows}

    async def actuator(self, actuator_id: str) -> Actuator:
        found = await self.actuators([actuator_id])
        if actuator_id not in found:
            raise NotFound(f"actuator {actuator_id} not found")
        return found[actuator_id]

    async def sensors_under(self, asset_id: str) -> list[Sensor]:
        """Sensors of an asset and all its descendants."""
        return [_rows.sensor_from(r) for r in await self._client.read(q.SENSORS_UNDER, id=asset_id)]

    async def all_sensors(self, *, after: str = "", limit: int = 10_000) -> list[Sensor]:
        rows = await self._client.read(q.ALL_SENSORS, after=after, limit=limit)
        return [_rows.sensor_from(r) for r in rows]

    async def delete_sensor(self, sensor_id: str, *, cascade: bool = False) -> None:
        """Delete a sensor. With alerts or data source bindings it needs ``cascade``,
        which deletes its alerts and unbinds it (readings stay in the readings store)."""
        await self._delete(
            sensor_id, "sensor", q.GET_SENSORS, q.SENSOR_GUARDS,
            (q.CASCADE_SENSOR_ALERTS, q.DELETE_SENSORS), cascade=cascade,
        )  # fmt: skip

    async def delete_actuator(self, actuator_id: str, *, cascade: bool = False) -> None:
        """Delete an actuator. With setpoint commands (its audit trail) or bindings it
        needs ``cascade``, which deletes those commands and unbinds it."""
        await self._delete(
            actuator_id, "actuator", q.GET_ACTUATORS, q.ACTUATOR_GUARDS,
            (q.CASCADE_ACTUATOR_COMMANDS, q.DELETE_ACTUATORS), cascade=cascade,
        )  # fmt: skip

    async def delete_blockers(self, kind: str, ids: Sequence[str]) -> dict[str, DeleteBlockers]:
        """What is attached to sensors (``kind`` "sensor") or actuators ("actuator")."""
        guard = q.SENSOR_GUARDS if kind == "sensor" else q.ACTUATOR_GUARDS
        rows = await self._client.read(guard, ids=list(ids))
        return {r["id"]: DeleteBlockers.from_row(kind, r) for r in rows}

    async def _delete(
        self,
        node_id: str,
        kind: str,
        get: LiteralString,
        guard: LiteralString,
        statements: tuple[LiteralString, ...],
        *,
        cascade: bool,
    ) -> None:
        async def work(tx: Tx) -> None:
            if not await tx.rows(get, ids=[node_id]):
                raise NotFound(f"{kind} {node_id} not found")
            if not cascade:
                (row,) = await tx.rows(guard, ids=[node_id])
                blockers = DeleteBlockers.from_row(kind, row)
                if blockers.blocked:
                    raise blockers.conflict("them")
            for statement in statements:
                await tx.run(statement, ids=[node_id])

        await self._client.write_tx(work)


async def _require_assets(tx: Tx, ids: set[str]) -> None:
    rows = await tx.rows(qa.GET_ASSETS, ids=sorted(ids))
    missing = sorted(ids - {r["id"] for r in rows})
    if missing:
        raise NotFound(f"asset(s) not found: {', '.join(missing)}")


def _unique(ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValidationError(f"id {i} appears twice in one request")
        seen.add(i)
