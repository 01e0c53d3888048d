"""Modbus TCP connector (pymodbus): block-read polling and read-back-confirmed writes.

Every ``poll`` seconds the bound points are read with the fewest requests the limits
allow (``modbus_codec.plan_reads``); one poll cycle is one batch for the sink, stamped
with the time each block's response arrived. A block answered with a Modbus exception
yields ``Quality.BAD`` readings with ``value=None`` and the exception in ``raw``; so does
a response too short for the block (a device bug), and polling goes on. A lost
connection or a timeout closes the socket and reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import math

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from graph.errors import ValidationError
from graph.model import ActuatorBinding, DataSource, DeviceProtocol
from graph.timeutil import utcnow
from ingest.connectors.base import (
    Bindings,
    ConnectorState,
    ErrorSink,
    Sink,
    WriteOutcome,
    check_setpoint,
)
from ingest.connectors.modbus_codec import (
    BlockDecoder,
    Kind,
    Point,
    ReadBlock,
    Table,
    encode_values,
    plan_reads,
)
from ingest.connectors.runtime import Backoff, ConnectorBase, raise_if_cancelled
from ingest.connectors.scaling import to_raw
from ingest.connectors.settings import ModbusSettings
from ingest.reading import Quality, RawReading

__all__ = ["ModbusConnector"]

_log = logging.getLogger("twinql.ingest.connectors.modbus")

_TRANSPORT_ERRORS = (ModbusException, ConnectionError, OSError, TimeoutError)


class ModbusConnector(ConnectorBase):
    protocol = DeviceProtocol.MODBUS

    def __init__(
        self,
        source: DataSource,
        bindings: Bindings,
        sink: Sink,
        *,
        on_error: ErrorSink | None = None,
    ) -> None:
        super().__init__(source, bindings, sink, on_error=on_error)
        self.settings = ModbusSettings.from_source(source)
        self._client: AsyncModbusTcpClient | None = None
        self._lock = asyncio.Lock()  # one request in flight per device
        self._plan(bindings)

    def _plan(self, bindings: Bindings) -> None:
        points = [
            Point.parse(b.sensor_id, b.address, b.data_type, b.scale, b.offset)
            for b in bindings.sensors
        ]
        for a in bindings.actuators:  # fail early on unwritable bindings
            self._actuator_point(a)
        self._decoders = [
            BlockDecoder(block) for block in plan_reads(points, max_gap=self.settings.max_gap)
        ]

    @property
    def blocks(self) -> list[ReadBlock]:
        """The read requests one poll cycle sends."""
        return [d.block for d in self._decoders]

    async def reconfigure(self, bindings: Bindings) -> None:
        self._plan(bindings)
        await super().reconfigure(bindings)

    def _restart_backoff(self) -> Backoff:
        return Backoff(self.settings.reconnect.min_s, self.settings.reconnect.max_s)

    # ---- polling ---------------------------------------------------------------------

    async def _run(self) -> None:
        st = self.settings
        backoff = Backoff(st.reconnect.min_s, st.reconnect.max_s)
        loop = asyncio.get_running_loop()
        first = True
        while True:
            if not first:
                self._note_reconnect()
            first = False
            self._set_state(ConnectorState.CONNECTING)
            client = AsyncModbusTcpClient(
                st.host, port=st.port, timeout=st.timeout_s, retries=0, reconnect_delay=0
            )
            self._client = client
            try:
                if not await client.connect():
                    raise ConnectionError(f"cannot connect to {st.host}:{st.port}")
                self._set_state(ConnectorState.CONNECTED)
                backoff.reset()
                while True:
                    raise_if_cancelled()
                    started = loop.time()
                    await self._poll_once(client)
                    await asyncio.sleep(max(0.0, st.poll_s - (loop.time() - started)))
            except _TRANSPORT_ERRORS as exc:
                self._record_error(f"modbus: {exc!r}", state=ConnectorState.ERROR)
            finally:
                self._client = None
                client.close()
            await self._back_off(backoff.next_delay())

    async def _on_stopped(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _read(self, client: AsyncModbusTcpClient, table: Table, start: int, count: int):  # noqa: ANN202
        unit = self.settings.unit
        call = {
            Table.HOLDING: client.read_holding_registers,
            Table.INPUT: client.read_input_registers,
            Table.COIL: client.read_coils,
            Table.DISCRETE: client.read_discrete_inputs,
        }[table]
        async with self._lock:  # the timeout covers the request, not the wait for the lock
            async with asyncio.timeout(self.settings.timeout_s + 1):
                return await call(start, count=count, device_id=unit)

    async def _poll_once(self, client: AsyncModbusTcpClient) -> None:
        readings: list[RawReading] = []
        for decoder in self._decoders:
            block = decoder.block
            response = await self._read(client, block.table, block.start, block.count)
            now = utcnow()
            where = f"{block.table.value}:{block.start}+{block.count}"
            if response.isError():
                reason = f"modbus exception {getattr(response, 'exception_code', '?')} at {where}"
                self._record_error(reason)
                readings.extend(self._bad(block, now, reason))
                continue
            words = response.bits if block.table.is_bits else response.registers
            try:
                values = decoder.decode(words)
            except ValidationError as exc:  # short or malformed answer: bad, keep polling
                reason = f"invalid response at {where}: {exc.message}"
                self._record_error(reason)
                readings.extend(self._bad(block, now, reason))
                continue
            readings.extend(
                RawReading(
                    sensor_id=p.key,
                    value=float(v),
                    timestamp=now,
                    asset_id=self._bindings.sensor_asset[p.key],
                    quality=Quality.GOOD,
                    metadata={"address": str(p.address)},
                    source=self._source.id,
                    received_at=now,
                )
                for p, v in zip(block.points, values.tolist(), strict=True)
            )
        await self._emit(readings)

    def _bad(self, block: ReadBlock, now, reason: str) -> list[RawReading]:  # noqa: ANN001
        return [
            RawReading(
                sensor_id=p.key,
                value=None,
                timestamp=now,
                asset_id=self._bindings.sensor_asset[p.key],
                quality=Quality.BAD,
                metadata={"address": str(p.address), "error": reason},
                source=self._source.id,
                received_at=now,
                raw=reason,
            )
            for p in block.points
        ]

    # ---- setpoints -------------------------------------------------------------------

    @staticmethod
    def _actuator_point(binding: ActuatorBinding) -> Point:
        point = Point.parse(
            binding.actuator_id, binding.address, binding.data_type, binding.scale, binding.offset
        )
        if not point.address.table.writable:
            raise ValidationError(
                f"actuator {binding.actuator_id}: {point.address} is read-only "
                "(write to hr: or coil:)"
            )
        return point

    async def write(self, binding: ActuatorBinding, value: float) -> WriteOutcome:
        """Write a holding register (block) or coil, then read it back to confirm."""
        value = check_setpoint(value)
        if binding.source_id != self._source.id:
            raise ValidationError(f"actuator {binding.actuator_id} is not bound to this source")
        point = self._actuator_point(binding)
        raw = to_raw(value, binding.scale, binding.offset)
        if point.dtype.kind is not Kind.FLOAT32 and not math.isclose(raw, round(raw), abs_tol=1e-9):
            raise ValidationError(
                f"setpoint {value} gives raw {raw}, not an integer for {point.dtype.kind.value}"
            )
        words = encode_values([raw], point.dtype).reshape(-1).tolist()
        connected = await self.wait_connected(self.settings.timeout_s)
        client = self._client
        if client is None or not connected:
            return self._write_done(WriteOutcome(False, None, "not connected to the device"))
        unit, address = self.settings.unit, point.address
        try:
            async with self._lock:
                if address.table is Table.COIL:
                    resp = await client.write_coil(address.index, bool(words[0]), device_id=unit)
                elif len(words) == 1 and self.settings.single_register_writes:
                    resp = await client.write_register(address.index, words[0], device_id=unit)
                else:
                    resp = await client.write_registers(address.index, words, device_id=unit)
            if resp.isError():
                return self._write_done(
                    WriteOutcome(False, None, f"device refused the write to {address}: {resp}")
                )
            back = await self._read(client, address.table, address.index, point.dtype.width)
        except _TRANSPORT_ERRORS as exc:
            return self._write_done(WriteOutcome(False, None, f"write failed: {exc!r}"))
        if back.isError():
            return self._write_done(WriteOutcome(False, None, f"read-back failed: {back}"))
        block = ReadBlock(address.table, address.index, point.dtype.width, (point,))
        words_back = back.bits if address.table.is_bits else back.registers
        try:
            confirmed = float(BlockDecoder(block).decode(words_back)[0])
        except ValidationError as exc:
            return self._write_done(WriteOutcome(False, None, f"read-back invalid: {exc.message}"))
        ok = math.isclose(confirmed, value, rel_tol=1e-6, abs_tol=1e-9)
        message = "confirmed by read-back" if ok else f"read back {confirmed}, wrote {value}"
        return self._write_done(WriteOutcome(ok, confirmed, message))
