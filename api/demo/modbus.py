"""The demo's Modbus TCP device: a pymodbus server whose registers mirror the plant.

Sensor points are encoded with the connector's own codec (data type, word order,
``raw = (value - offset) / scale``). Actuator points (holding registers or coils) that a
client changed are decoded and applied to the plant; a refused value is written back.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import numpy as np
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from api.demo.plant import DemoPlant
from graph.errors import TwinqlError
from graph.model import ActuatorBinding, DataSource, SensorBinding
from ingest.connectors.modbus_codec import (
    BlockDecoder,
    Kind,
    Point,
    ReadBlock,
    Table,
    encode_values,
)
from ingest.connectors.scaling import to_raw
from ingest.connectors.settings import ModbusSettings

__all__ = ["ModbusDemoDevice"]

_log = logging.getLogger("twinql.demo.modbus")
_FC = {Table.COIL: 1, Table.DISCRETE: 2, Table.HOLDING: 3, Table.INPUT: 4}
_INT_LIMITS = {
    Kind.INT16: (-(2**15), 2**15 - 1),
    Kind.UINT16: (0, 2**16 - 1),
    Kind.INT32: (-(2**31), 2**31 - 1),
    Kind.UINT32: (0, 2**32 - 1),
    Kind.BOOL: (0, 1),
}


def encode_point(point: Point, value: float) -> list[int]:
    """Engineering value -> register words (or one bit), clipped to the type's range."""
    raw = to_raw(value, point.scale, point.offset)
    if point.dtype.kind in _INT_LIMITS:
        lo, hi = _INT_LIMITS[point.dtype.kind]
        raw = float(np.clip(np.rint(raw) if np.isfinite(raw) else 0.0, lo, hi))
    return [int(w) for w in encode_values([raw], point.dtype).reshape(-1)]


def _point(b: SensorBinding | ActuatorBinding) -> Point:
    key = b.sensor_id if isinstance(b, SensorBinding) else b.actuator_id
    return Point.parse(key, b.address, b.data_type, b.scale, b.offset)


class ModbusDemoDevice:
    """One Modbus TCP server for one data source, on ``127.0.0.1:port``."""

    def __init__(
        self,
        source: DataSource,
        sensors: list[SensorBinding],
        actuators: list[ActuatorBinding],
        port: int,
        host: str = "127.0.0.1",
    ) -> None:
        self.source = source
        settings = ModbusSettings.from_source(source)
        self.unit = settings.unit
        query = source.endpoint.partition("?")[2]
        self.endpoint = f"modbus://{host}:{port}" + (f"?{query}" if query else "")
        self._host, self._port = host, port
        self._sensors = [_point(b) for b in sensors]
        self._actuators = [_point(b) for b in actuators]
        self._last: dict[str, list[int]] = {}
        self._server: ModbusTcpServer | None = None

    def _device(self) -> SimDevice:
        points = [*self._sensors, *self._actuators]
        regs = max((p.end for p in points if not p.address.table.is_bits), default=0) + 1
        bits = max((p.end for p in points if p.address.table.is_bits), default=0) + 1
        coil = [SimData(0, count=bits, values=False, datatype=DataType.BITS)]
        reg = [SimData(0, count=regs, values=0, datatype=DataType.REGISTERS)]
        return SimDevice(id=0, simdata=(coil, list(coil), reg, list(reg)))

    async def start(self, plant: DemoPlant) -> None:
        server = ModbusTcpServer(self._device(), address=(self._host, self._port))
        await server.serve_forever(background=True)
        self._server = server
        for p in self._actuators:
            words = encode_point(p, plant.setpoints[p.key])
            await self._set(p, words)
            self._last[p.key] = words
        await self.publish(plant, None)

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()
            await asyncio.sleep(0)

    async def _set(self, p: Point, words: list[int]) -> None:
        assert self._server is not None
        values: list[int] | list[bool] = (
            [bool(w) for w in words] if p.address.table.is_bits else words
        )
        await self._server.async_setValues(self.unit, _FC[p.address.table], p.address.index, values)

    async def publish(self, plant: DemoPlant, now: datetime | None) -> None:
        if self._server is None:
            return
        for p in self._sensors:
            await self._set(p, encode_point(p, plant.value(p.key)))

    async def poll(self, plant: DemoPlant) -> None:
        """Apply setpoints clients wrote since the last poll."""
        server = self._server
        if server is None:
            return
        for p in self._actuators:
            got = await server.async_getValues(
                self.unit, _FC[p.address.table], p.address.index, p.dtype.width
            )
            words = [int(w) for w in got]
            if words == self._last.get(p.key):
                continue
            block = ReadBlock(p.address.table, p.address.index, p.dtype.width, (p,))
            value = float(BlockDecoder(block).decode(words)[0])
            try:
                plant.write(p.key, value)
                self._last[p.key] = words
                _log.info("%s: %s set to %s by a client", self.source.id, p.key, value)
            except TwinqlError as exc:
                _log.warning("%s: refused %s = %s: %s", self.source.id, p.key, value, exc)
                await self._set(p, self._last[p.key])
