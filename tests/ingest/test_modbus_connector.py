"""ModbusConnector against a real pymodbus TCP server."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from graph.errors import ValidationError
from graph.model import ActuatorBinding, DataSource, SensorBinding
from ingest.connectors import Bindings, ConnectorState, DeadLetter
from ingest.connectors.modbus import ModbusConnector
from ingest.connectors.modbus_codec import Kind, ModbusType, WordOrder, encode_values
from ingest.connectors.settings import ModbusSettings
from ingest.reading import Quality, RawReading
from tests.support.devices import ModbusDevice, RawModbusDevice
from tests.support.net import free_port
from tests.support.polling import eventually


class Sink:
    def __init__(self) -> None:
        self.batches: list[list[RawReading]] = []
        self.letters: list[DeadLetter] = []

    async def __call__(self, batch: list[RawReading]) -> None:
        self.batches.append(batch)

    async def on_error(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    def latest(self) -> dict[str, RawReading]:
        return {r.sensor_id: r for r in self.batches[-1]} if self.batches else {}


def _regs(value: float, dtype: str) -> list[int]:
    return encode_values([value], ModbusType.parse(dtype)).reshape(-1).tolist()


def _rig(device: ModbusDevice, **settings: object) -> tuple[DataSource, Bindings]:
    settings.setdefault("reconnect_min_s", 0.1)
    settings.setdefault("reconnect_max_s", 0.3)
    source = DataSource(
        id=f"plc-{uuid.uuid4().hex[:6]}",
        protocol="modbus",
        endpoint=f"{device.url}?unit=1&timeout=0.5&poll=0.05",
        settings=settings,
    )
    asset = "pump-7"
    sensors = [
        SensorBinding(source.id, "temp", "hr:10", scale=0.1, offset=-20.0, data_type="int16"),
        SensorBinding(source.id, "flow", "hr:11", data_type="float32:CDAB"),
        SensorBinding(source.id, "energy", "hr:13", data_type="uint32"),
        SensorBinding(source.id, "pressure", "ir:0", scale=0.01, data_type="uint16:BADC"),
        SensorBinding(source.id, "running", "coil:3", data_type="bool"),
        SensorBinding(source.id, "alarm", "di:2", data_type="bool"),
        SensorBinding(source.id, "far", "hr:200", data_type="int32:DCBA"),
    ]
    actuators = [
        ActuatorBinding(source.id, "speed-sp", "hr:100", data_type="float32", scale=1.0),
        ActuatorBinding(source.id, "valve-sp", "hr:110", data_type="int16", scale=0.5),
        ActuatorBinding(source.id, "pump-on", "coil:5", data_type="bool"),
    ]
    return source, Bindings.of([(s, asset) for s in sensors], [(a, asset) for a in actuators])


async def test_poll_reads_blocks_with_types_scale_and_offset(modbus_device: ModbusDevice) -> None:
    dev = modbus_device
    await dev.set("hr", 10, [0xFF38])  # -200 -> -200 * 0.1 - 20 = -40
    await dev.set("hr", 11, _regs(12.5, "float32:CDAB"))
    await dev.set("hr", 13, _regs(4_000_000_000, "uint32"))
    await dev.set("ir", 0, _regs(1234, "uint16:BADC"))
    await dev.set("coil", 3, [True])
    await dev.set("di", 2, [True])
    await dev.set("hr", 200, _regs(-123456, "int32:DCBA"))
    source, bindings = _rig(dev)
    sink = Sink()
    async with ModbusConnector(source, bindings, sink, on_error=sink.on_error) as connector:
        # hr:10..14 in one request, hr:200 in another, then ir, coil and di
        assert [(b.table.value, b.start, b.count) for b in connector.blocks] == [
            ("hr", 10, 5),
            ("hr", 200, 2),
            ("ir", 0, 1),
            ("coil", 3, 1),
            ("di", 2, 1),
        ]
        await eventually(lambda: len(sink.batches) >= 1)
        got = sink.latest()
        assert {k: r.value for k, r in got.items()} == {
            "temp": pytest.approx(-40.0),
            "flow": 12.5,
            "energy": 4_000_000_000.0,
            "pressure": pytest.approx(12.34),
            "running": 1.0,
            "alarm": 1.0,
            "far": -123456.0,
        }
        assert all(r.quality is Quality.GOOD and r.source == source.id for r in got.values())
        assert got["temp"].asset_id == "pump-7" and got["temp"].timestamp is not None
        await dev.set("hr", 10, [300])
        await eventually(lambda: sink.latest()["temp"].value == pytest.approx(10.0))
        status = connector.status()
        assert status.state is ConnectorState.CONNECTED and status.messages >= 2
        assert status.readings == 7 * len(sink.batches)


async def test_exception_response_gives_bad_quality_not_a_crash(
    modbus_device: ModbusDevice,
) -> None:
    source, bindings = _rig(modbus_device)
    beyond = SensorBinding(source.id, "ghost", "hr:290", data_type="float32")
    bindings = Bindings.of(
        [(s, "pump-7") for s in (*bindings.sensors[:1], beyond)]
        + [(SensorBinding(source.id, "ghost2", "hr:299", data_type="int32"), "pump-7")]
    )
    sink = Sink()
    async with ModbusConnector(source, bindings, sink) as connector:
        await eventually(lambda: len(sink.batches) >= 2)
        got = sink.latest()
        assert got["temp"].quality is Quality.GOOD
        assert got["ghost2"].quality is Quality.BAD and got["ghost2"].value is None
        assert "exception" in (got["ghost2"].raw or "")
        assert connector.status().state is ConnectorState.CONNECTED
        assert connector.status().last_error is not None


async def test_setpoints_reach_registers_and_coils(modbus_device: ModbusDevice) -> None:
    dev = modbus_device
    source, bindings = _rig(dev)
    speed, valve, pump = bindings.actuators
    sink = Sink()
    async with ModbusConnector(source, bindings, sink) as connector:
        assert await connector.wait_connected(3)
        outcome = await connector.write(speed, 1450.5)
        assert outcome.ok and outcome.confirmed_value == pytest.approx(1450.5)
        assert await dev.get("hr", 100, 2) == _regs(1450.5, "float32")
        outcome = await connector.write(valve, -30.0)  # raw -60 with scale 0.5
        assert outcome.ok and outcome.confirmed_value == -30.0
        assert await dev.get("hr", 110) == [(-60) & 0xFFFF]
        outcome = await connector.write(pump, 1)
        assert outcome.ok and await dev.get("coil", 5) == [True]
        for bad in (float("nan"), float("inf")):
            with pytest.raises(ValidationError):
                await connector.write(speed, bad)
        with pytest.raises(ValidationError, match="range"):
            await connector.write(valve, 20000.0)
        with pytest.raises(ValidationError, match="integer"):
            await connector.write(valve, 0.2)
        assert connector.status().writes == 3


def test_read_only_and_bad_bindings_are_rejected_up_front() -> None:
    source = DataSource(id="plc", protocol="modbus", endpoint="modbus://127.0.0.1:1502")
    ro = Bindings.of(actuators=[(ActuatorBinding("plc", "a", "ir:3", data_type="int16"), "x")])
    with pytest.raises(ValidationError, match="read-only"):
        ModbusConnector(source, ro, Sink())
    bad = Bindings.of([(SensorBinding("plc", "s", "coil:1", data_type="float32"), "x")])
    with pytest.raises(ValidationError, match="bool"):
        ModbusConnector(source, bad, Sink())
    with pytest.raises(ValidationError, match="poll"):
        ModbusConnector(
            DataSource(id="plc", protocol="modbus", endpoint="modbus://h?poll=-1"),
            Bindings(),
            Sink(),
        )


async def test_reconnects_after_device_restart(modbus_device: ModbusDevice) -> None:
    dev = modbus_device
    source, bindings = _rig(dev)
    sink = Sink()
    async with ModbusConnector(source, bindings, sink) as connector:
        await eventually(lambda: len(sink.batches) >= 1)
        await dev.stop()
        await eventually(lambda: connector.status().state is not ConnectorState.CONNECTED)
        assert connector.status().last_error is not None
        await dev.start()
        await dev.set("hr", 10, [500])
        await eventually(lambda: sink.latest()["temp"].value == pytest.approx(30.0), within=5)
        assert connector.status().state is ConnectorState.CONNECTED
        assert connector.status().reconnects >= 1
    assert connector.status().state is ConnectorState.DISCONNECTED


async def test_unreachable_device_reports_error_and_stops_fast() -> None:
    port = free_port()
    source = DataSource(
        id="plc-x",
        protocol="modbus",
        endpoint=f"modbus://127.0.0.1:{port}?timeout=0.2",
        settings={"reconnect_min_s": 0.05, "reconnect_max_s": 0.1},
    )
    connector = ModbusConnector(source, Bindings(), Sink())
    await connector.start()
    await eventually(
        lambda: connector.status().errors, done=lambda n: n >= 2, within=3, what="2 errors"
    )
    assert connector.status().state in (ConnectorState.ERROR, ConnectorState.CONNECTING)
    outcome = await connector.write(ActuatorBinding("plc-x", "a", "hr:1", data_type="int16"), 1.0)
    assert not outcome.ok and "not connected" in outcome.message
    async with asyncio.timeout(1):
        await connector.aclose()
    assert connector.status().state is ConnectorState.DISCONNECTED


def test_word_order_helper_matches_codec() -> None:
    assert _regs(1.0, "float32") == [0x3F80, 0]
    assert ModbusType.parse("float32:CDAB") == ModbusType(Kind.FLOAT32, WordOrder.CDAB)


async def test_reconfigure_swaps_bindings_without_leaking_tasks(
    modbus_device: ModbusDevice,
) -> None:
    dev = modbus_device
    await dev.set("hr", 10, [100])
    await dev.set("hr", 50, [7])
    source, bindings = _rig(dev)
    sink = Sink()
    async with ModbusConnector(source, bindings, sink) as connector:
        await eventually(lambda: "temp" in sink.latest())
        only = Bindings.of(
            [(SensorBinding(source.id, "level", "hr:50", data_type="uint16"), "t-1")]
        )
        await connector.reconfigure(only)
        assert [(b.start, b.count) for b in connector.blocks] == [(50, 1)]
        await eventually(lambda: set(sink.latest()) == {"level"})
        assert sink.latest()["level"].value == 7.0 and sink.latest()["level"].asset_id == "t-1"
        tasks = [t for t in asyncio.all_tasks() if t.get_name() == f"connector:{source.id}"]
        assert len(tasks) == 1


async def test_short_response_gives_bad_quality_and_polling_goes_on(
    raw_modbus_device: RawModbusDevice,
) -> None:
    dev = raw_modbus_device
    dev.short_by = 1  # the firmware answers one register fewer than asked
    dev.registers.update({10: 215, 11: _regs(2.5, "float32")[0], 12: _regs(2.5, "float32")[1]})
    source = DataSource(
        id=f"plc-{uuid.uuid4().hex[:6]}",
        protocol="modbus",
        endpoint=f"{dev.url}?unit=1&timeout=0.5&poll=0.05",
        settings={"reconnect_min_s": 0.1, "reconnect_max_s": 0.3},
    )
    bindings = Bindings.of(
        [
            (SensorBinding(source.id, "temp", "hr:10", scale=0.1, data_type="int16"), "p"),
            (SensorBinding(source.id, "flow", "hr:11", data_type="float32"), "p"),
        ],
        [(ActuatorBinding(source.id, "sp", "hr:20", data_type="uint16"), "p")],
    )
    sink = Sink()
    async with ModbusConnector(source, bindings, sink, on_error=sink.on_error) as connector:
        await eventually(lambda: len(sink.batches) >= 3)  # it keeps polling
        got = sink.latest()
        assert {r.quality for r in got.values()} == {Quality.BAD}
        assert all(r.value is None and "short read" in (r.raw or "") for r in got.values())
        status = connector.status()
        assert status.state is ConnectorState.CONNECTED and status.restarts == 0
        assert "short read: 2 of 3 at hr:10" in (status.last_error or "")
        outcome = await connector.write(bindings.actuators[0], 7.0)  # read-back is short too
        assert not outcome.ok and "read-back invalid" in outcome.message
        assert dev.registers[20] == 7

        dev.short_by = 0  # fixed: good readings again, on the same connection
        await eventually(lambda: sink.latest()["temp"].quality is Quality.GOOD)
        assert sink.latest()["temp"].value == pytest.approx(21.5)
        assert sink.latest()["flow"].value == 2.5
        assert connector.status().reconnects == 0


async def test_a_device_with_only_function_6_takes_single_register_writes() -> None:
    dev = RawModbusDevice(writes=(6,))  # firmware without Write Multiple Registers
    await dev.start()
    try:
        actuators = [("sp", "hr:20", "uint16"), ("big", "hr:30", "float32")]
        outcomes = {}
        for single in (False, True):
            source = DataSource(
                id=f"plc-{uuid.uuid4().hex[:6]}",
                protocol="modbus",
                endpoint=f"{dev.url}?unit=1&timeout=0.5&poll=0.05",
                settings={"single_register_writes": single, "reconnect_min_s": 0.1},
            )
            bindings = Bindings.of(
                [], [(ActuatorBinding(source.id, i, a, data_type=t), "p") for i, a, t in actuators]
            )
            async with ModbusConnector(source, bindings, Sink()) as connector:
                assert await connector.wait_connected(5)
                for binding in bindings.actuators:
                    outcomes[single, binding.actuator_id] = await connector.write(binding, 7.0)
    finally:
        await dev.stop()
    assert not outcomes[False, "sp"].ok and "refused" in outcomes[False, "sp"].message
    assert outcomes[True, "sp"].ok and outcomes[True, "sp"].confirmed_value == 7.0
    assert dev.registers[20] == 7 and dev.write_codes == [6]
    # two registers cannot go in one function-6 write: still 16, which this device refuses
    assert not outcomes[True, "big"].ok and "refused" in outcomes[True, "big"].message


def test_single_register_writes_must_be_a_boolean() -> None:
    source = DataSource(
        id="plc",
        protocol="modbus",
        endpoint="modbus://h",
        settings={"single_register_writes": "si"},
    )
    with pytest.raises(ValidationError, match="single_register_writes must be true or false"):
        ModbusSettings.from_source(source)


class _BuggyPoll(ModbusConnector):
    """A connector whose poll loop has a bug for its first polls (fault injection only;
    the device, the connection and the rest of the loop are real)."""

    bugs = 2

    async def _poll_once(self, client) -> None:  # noqa: ANN001
        if self.bugs:
            self.bugs -= 1
            raise RuntimeError(f"bug #{2 - self.bugs} in the poll loop")
        await super()._poll_once(client)


async def test_unexpected_error_restarts_the_connector_with_backoff(
    modbus_device: ModbusDevice,
) -> None:
    await modbus_device.set("hr", 10, [300])
    source, bindings = _rig(modbus_device)
    sink = Sink()
    async with _BuggyPoll(source, bindings, sink) as connector:
        await eventually(lambda: len(sink.batches) >= 1)
        status = connector.status()
        assert status.restarts == 2 and status.errors >= 2
        assert "bug #2 in the poll loop" in (status.last_error or "")
        assert "restarting after an unexpected error" in (status.last_error or "")
        assert status.state is ConnectorState.CONNECTED
        assert sink.latest()["temp"].value == pytest.approx(10.0)
        tasks = [t for t in asyncio.all_tasks() if t.get_name() == f"connector:{source.id}"]
        assert len(tasks) == 1
    assert connector.status().state is ConnectorState.DISCONNECTED


async def test_close_ends_the_poll_loop_at_any_point_of_its_cycle(
    modbus_device: ModbusDevice, caplog: pytest.LogCaptureFixture
) -> None:
    """A cancel that lands as a read completes is swallowed by Python 3.11's wait_for
    (which client libraries use); the poll loop still ends, so close never hangs and no
    connector task is left polling."""
    source, bindings = _rig(modbus_device)
    for i in range(30):
        connector = ModbusConnector(source, bindings, Sink())
        await connector.start()
        await asyncio.sleep(0.007 * i)
        async with asyncio.timeout(5):
            await connector.aclose()
        assert connector.status().state is ConnectorState.DISCONNECTED
    alive = [t for t in asyncio.all_tasks() if t.get_name() == f"connector:{source.id}"]
    assert alive == [] and "did not stop" not in caplog.text
