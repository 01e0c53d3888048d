"""The demo's OPC UA device: an asyncua server with one variable per bound NodeId.

Sensor variables are read-only and updated from the plant with source timestamps;
actuator variables are writable, and a value a client writes is applied to the plant as
the write completes (a value the plant refuses is written back to the last accepted
setpoint, so the client's read-back shows the refusal).
"""

from __future__ import annotations

import logging
import math
from datetime import datetime

from asyncua import Server, ua
from asyncua.common.callback import CallbackType, ServerItemCallback

from api.demo.plant import DemoPlant
from graph.errors import TwinqlError, ValidationError
from graph.model import ActuatorBinding, DataSource, SensorBinding
from ingest.connectors.scaling import to_raw

__all__ = ["OpcUaDemoDevice"]

_log = logging.getLogger("twinql.demo.opcua")

_VTYPES = {
    "bool": ua.VariantType.Boolean,
    "int16": ua.VariantType.Int16,
    "uint16": ua.VariantType.UInt16,
    "int32": ua.VariantType.Int32,
    "uint32": ua.VariantType.UInt32,
    "int64": ua.VariantType.Int64,
    "uint64": ua.VariantType.UInt64,
    "float32": ua.VariantType.Float,
    "float64": ua.VariantType.Double,
}
_RANGES = {
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}


def vtype_of(data_type: str) -> ua.VariantType:
    base = data_type.partition(":")[0]
    try:
        return _VTYPES[base]
    except KeyError:
        raise ValidationError(f"OPC UA demo device cannot hold data type {data_type!r}") from None


def to_variant(raw: float, vtype: ua.VariantType) -> object:
    """A raw number as the variant's Python value (integers rounded and clipped)."""
    if vtype is ua.VariantType.Boolean:
        return bool(raw)
    if vtype in _RANGES:
        lo, hi = _RANGES[vtype]
        return int(min(max(round(raw), lo), hi)) if math.isfinite(raw) else 0
    return float(raw)


class OpcUaDemoDevice:
    """One OPC UA server for one data source, on ``127.0.0.1:port``."""

    def __init__(
        self,
        source: DataSource,
        sensors: list[SensorBinding],
        actuators: list[ActuatorBinding],
        port: int,
        host: str = "127.0.0.1",
    ) -> None:
        self.source = source
        self.endpoint = f"opc.tcp://{host}:{port}/twinql/demo"
        self._sensors = [
            (b, ua.NodeId.from_string(b.address), vtype_of(b.data_type)) for b in sensors
        ]
        self._actuators = [
            (b, ua.NodeId.from_string(b.address), vtype_of(b.data_type)) for b in actuators
        ]
        self._last: dict[str, object] = {}  # actuator id -> value the node holds
        self._server: Server | None = None

    async def start(self, plant: DemoPlant) -> None:
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name(f"twinql demo device {self.source.id}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        nodes = [n for _, n, _ in (*self._sensors, *self._actuators)]
        need = max((n.NamespaceIndex for n in nodes), default=2)
        index = 1
        while index < need:
            index = await server.register_namespace(f"urn:twinql:demo:{self.source.id}:{index}")
        folder = await server.nodes.objects.add_object(
            ua.NodeId(self.source.id, need),  # type: ignore[arg-type]  # typed as ua.String, ua.Int16
            self.source.id,
        )
        seen: set[ua.NodeId] = set()
        for b, node, vtype in self._sensors:
            if node not in seen:
                raw = to_raw(plant.value(b.sensor_id), b.scale, b.offset)
                await folder.add_variable(
                    node, b.sensor_id, to_variant(raw, vtype), varianttype=vtype
                )
                seen.add(node)
        for a, node, vtype in self._actuators:
            value = to_variant(to_raw(plant.setpoints[a.actuator_id], a.scale, a.offset), vtype)
            var = await folder.add_variable(node, a.actuator_id, value, varianttype=vtype)
            await var.set_writable()
            self._last[a.actuator_id] = value
        await server.start()
        self._server = server

        async def on_write(event: ServerItemCallback, _dispatcher: object) -> None:
            if event.is_external:  # apply before the client's write call returns
                await self.poll(plant)

        server.subscribe_server_callback(CallbackType.PostWrite, on_write)

    async def aclose(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            await server.stop()

    async def publish(self, plant: DemoPlant, now: datetime) -> None:
        server = self._server
        if server is None:
            return
        for b, node, vtype in self._sensors:
            raw = to_raw(plant.value(b.sensor_id), b.scale, b.offset)
            dv = ua.DataValue(
                ua.Variant(to_variant(raw, vtype), vtype),
                SourceTimestamp=now,  # type: ignore[arg-type]  # ua.DateTime subclasses datetime
                ServerTimestamp=now,  # type: ignore[arg-type]
            )
            await server.write_attribute_value(node, dv)

    async def poll(self, plant: DemoPlant) -> None:
        """Apply setpoints clients wrote since the last poll."""
        server = self._server
        if server is None:
            return
        for b, node, vtype in self._actuators:
            variant = server.read_attribute_value(node).Value
            assert variant is not None  # start() gave every variable a value
            value = variant.Value
            if value == self._last.get(b.actuator_id):
                continue
            try:
                plant.write(b.actuator_id, float(value) * b.scale + b.offset)
                self._last[b.actuator_id] = value
                _log.info("%s: %s set to %s by a client", self.source.id, b.actuator_id, value)
            except (TwinqlError, TypeError, ValueError) as exc:
                _log.warning("%s: refused %s = %r: %s", self.source.id, b.actuator_id, value, exc)
                back = self._last.get(b.actuator_id)
                await server.write_attribute_value(node, ua.DataValue(ua.Variant(back, vtype)))
