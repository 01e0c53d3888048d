"""The demo plant: physics, real protocol devices, and ``twinql demo`` end to end.

The device tests connect the project's own connectors (``make_connector``) to the
simulated devices over real OPC UA, Modbus TCP and MQTT (Mosquitto, and amqtt when asked
for). The last test runs ``python -m api.cli demo`` as a child process and talks to it
the way a new user would: GraphQL subscription over WebSocket, a setpoint mutation.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.cli import EXAMPLE_PLANT
from api.demo import DemoDevices, DemoPlant, DemoSettings, WearFault
from api.demo.modbus import encode_point
from graph.errors import NotFound, ValidationError
from graph.plantfile import PlantDescription, load_plant_file, parse_plant
from ingest.connectors import Bindings, make_connector
from ingest.connectors.modbus_codec import BlockDecoder, Point, ReadBlock
from ingest.connectors.runtime import ConnectorBase
from ingest.reading import RawReading
from tests.support.net import free_port
from tests.support.polling import eventually
from tests.support.wsclient import connect

ROOT = Path(__file__).resolve().parents[2]

# A one-pump plant on Modbus (setpoint in a holding register, word-swapped float speed)
# and a zone on MQTT: exercises paths the example plant does not.
SMALL_PLANT = """
assets:
  - id: sp-site
    type: site
    level: site
    children:
      - id: sp-pump
        type: centrifugal_pump
        level: equipment
        sensors:
          - {id: sp-pump.speed, kind: speed, unit: rpm, min_value: 0, max_value: 3600}
          - {id: sp-pump.flow, kind: flow, unit: m3/h, min_value: 0, max_value: 400}
          - {id: sp-pump.vibration, kind: vibration, unit: mm/s, min_value: 0, max_value: 20}
        actuators:
          - {id: sp-pump.speed_sp, unit: rpm, min_value: 0, max_value: 3000}
        sim:
          model: pump
          parameters: {wear: 0.1}
          state_map: {sp-pump.speed: speed_rpm, sp-pump.flow: flow_m3h}
          input_map: {sp-pump.speed_sp: speed_setpoint_rpm}
      - id: sp-zone
        type: hvac_zone
        level: equipment
        sensors:
          - {id: sp-zone.temperature, kind: temperature, unit: °C, min_value: -10, max_value: 50}
          - {id: sp-zone.co2, kind: co2, unit: ppm, min_value: 0, max_value: 5000}
        actuators:
          - {id: sp-zone.temp_sp, unit: °C, min_value: 16, max_value: 28}
        sim:
          model: hvac_zone
          state_map: {sp-zone.temperature: zone_temp_c}
data_sources:
  - id: sp-modbus
    protocol: modbus
    endpoint: modbus://127.0.0.1:5020?unit=1&poll=0.2
    bindings:
      - {sensor: sp-pump.speed, address: "ir:0", data_type: "float32:CDAB"}
      - {sensor: sp-pump.flow, address: "ir:2", data_type: uint16, scale: 0.1}
      - {sensor: sp-pump.vibration, address: "ir:3", data_type: int16, scale: 0.01}
      - {actuator: sp-pump.speed_sp, address: "hr:10", data_type: uint16}
  - id: sp-mqtt
    protocol: mqtt
    endpoint: mqtt://127.0.0.1:1883
    bindings:
      - {sensor: sp-zone.temperature, address: temperature}
      - {sensor: sp-zone.co2, address: co2}
      - {actuator: sp-zone.temp_sp, address: temp_sp}
"""


@pytest.fixture(scope="module")
def example() -> PlantDescription:
    return load_plant_file(EXAMPLE_PLANT)


# ---- the physics alone ---------------------------------------------------------------


def test_every_example_sensor_is_simulated(example: PlantDescription) -> None:
    plant = DemoPlant(example, seed=3)
    assert plant.unsimulated == []
    values = plant.snapshot()
    assert set(values) == {s.id for s in example.sensors}
    for sid, value in values.items():
        s = plant.sensors[sid]
        assert np.isfinite(value), sid
        if s.min_value is not None and s.max_value is not None:
            span = s.max_value - s.min_value
            assert s.min_value - 0.05 * span <= value <= s.max_value + 0.05 * span, (sid, value)


def test_bearing_wear_raises_vibration_and_temperature(example: PlantDescription) -> None:
    plant = DemoPlant(example, seed=1, speedup=120, fault=WearFault("pump-101", 0.6, 1800))
    start_wear = plant.wear()

    def window(n: int = 20) -> tuple[float, float]:
        vib, temp = [], []
        for _ in range(n):
            plant.advance(0.1)  # 12 s of plant time per tick
            vib.append(plant.value("pump-101.vibration"))
            temp.append(plant.value("pump-101.bearing_temp"))
        return float(np.mean(vib)), float(np.mean(temp))

    vib0, temp0 = window()
    for _ in range(100):  # 20 plant minutes
        plant.advance(0.1)
    vib1, temp1 = window()
    assert plant.wear() > start_wear + 0.3
    assert vib1 > vib0 * 1.6, (vib0, vib1)
    assert temp1 > temp0 + 4.0, (temp0, temp1)
    # pump-102 has no injected fault: its vibration stays where it was
    assert plant.value("pump-102.vibration") == pytest.approx(4.3, rel=0.15)


def test_speed_setpoint_changes_flow_pressure_power(example: PlantDescription) -> None:
    plant = DemoPlant(example, seed=2, fault=None)
    before = {
        k: plant.value(f"pump-101.{k}") for k in ("flow", "discharge_pressure", "motor_power")
    }
    assert plant.write("pump-101.speed_sp", 2300.0) == 2300.0
    for _ in range(300):
        plant.advance(0.1)
    after = {k: plant.value(f"pump-101.{k}") for k in before}
    assert plant.value("pump-101.speed") == pytest.approx(2300, rel=0.01)
    assert after["flow"] < before["flow"] * 0.8
    assert after["discharge_pressure"] < before["discharge_pressure"]
    assert after["motor_power"] < before["motor_power"] * 0.8
    # the other pumps keep their speed
    assert plant.value("pump-102.speed") == pytest.approx(2900, rel=0.01)


def test_valve_and_zone_setpoints_move_the_plant(example: PlantDescription) -> None:
    plant = DemoPlant(example, seed=2, fault=None)
    flow0 = plant.value("pump-101.flow")
    plant.write("valve-201.position_sp", 15.0)
    plant.write("zone-2.temp_sp", 26.0)
    t0 = plant.value("zone-2.temperature")
    for _ in range(300):
        plant.advance(1.0)  # 300 s: the valve strokes, the zone heats up
    assert plant.value("valve-201.position") == pytest.approx(15.0, abs=1.0)
    assert plant.value("pump-101.flow") < flow0 * 0.8  # throttled through the pump inputs
    assert plant.value("zone-2.temperature") > t0 + 1.0


def test_refused_writes(example: PlantDescription) -> None:
    plant = DemoPlant(example, seed=0)
    with pytest.raises(ValidationError, match="outside"):
        plant.write("pump-101.speed_sp", 5000.0)
    with pytest.raises(ValidationError):
        plant.write("pump-101.speed_sp", float("nan"))
    with pytest.raises(NotFound):
        plant.write("no-such.actuator", 1.0)
    assert plant.setpoints["pump-101.speed_sp"] == 2900.0


def test_production_line_makes_parts(example: PlantDescription) -> None:
    plant = DemoPlant(example, seed=5, speedup=60)
    for _ in range(100):  # 600 s of plant time
        plant.advance(0.1)
    counts = [plant.value(f"st-{i}.cycle_count") for i in range(1, 6)]
    assert all(c >= 5 for c in counts), counts
    assert all(plant.value(f"st-{i}.state") in (0, 1, 2, 3) for i in range(1, 6))
    for i in range(1, 5):
        level = plant.value(f"buf-{i}.level")
        assert 0 <= level <= plant.sensors[f"buf-{i}.level"].max_value


@settings(max_examples=200, deadline=None)
@given(
    dtype=st.sampled_from(
        [
            "int16",
            "uint16",
            "int32",
            "uint32",
            "float32",
            "float32:CDAB",
            "int32:DCBA",
            "uint16:BADC",
        ]
    ),
    raw=st.floats(-30000, 30000, allow_nan=False),
    scale=st.sampled_from([1.0, 0.1, 0.01, 2.5]),
    offset=st.sampled_from([0.0, -40.0, 12.5]),
)
def test_modbus_wire_round_trip(dtype: str, raw: float, scale: float, offset: float) -> None:
    """What the demo device encodes, the connector's decoder reads back (to one count of
    resolution; integer types clip out-of-range values to their limits)."""
    point = Point.parse("s", "ir:7", dtype, scale, offset)
    value = raw * scale + offset
    words = encode_point(point, value)
    block = ReadBlock(point.address.table, 7, point.dtype.width, (point,))
    back = float(BlockDecoder(block).decode(words)[0])
    if point.dtype.kind.value == "float32":
        assert back == pytest.approx(value, rel=1e-6, abs=1e-3 * abs(scale))
    else:
        lo, hi = {"int16": (-(2**15), 2**15 - 1), "uint16": (0, 2**16 - 1)}.get(
            point.dtype.kind.value, (-(2**31), 2**32 - 1)
        )
        if point.dtype.kind.value == "int32":
            hi = 2**31 - 1
        if point.dtype.kind.value == "uint32":
            lo = 0
        expected = min(max(round(raw), lo), hi) * scale + offset
        assert back == pytest.approx(expected, abs=abs(scale) + 1e-9)  # one count


# ---- the devices over real protocols ---------------------------------------------------


class Collector:
    def __init__(self) -> None:
        self.values: dict[str, list[float]] = defaultdict(list)
        self.sources: dict[str, str] = {}

    async def __call__(self, batch: list[RawReading]) -> None:
        for r in batch:
            if isinstance(r.value, int | float):
                self.values[r.sensor_id].append(float(r.value))
                self.sources[r.sensor_id] = r.source or ""

    async def reaches(self, sensor_id: str, pred, within: float = 15.0) -> float:  # noqa: ANN001
        """The latest value of ``sensor_id`` once it passes ``pred``."""
        vals = await eventually(
            lambda: self.values.get(sensor_id),
            done=lambda vs: bool(vs) and pred(vs[-1]),
            within=within,
            every=0.1,
            what=f"{sensor_id}: a value passing the check",
        )
        return vals[-1]


async def _connectors(
    plant: PlantDescription, devices: DemoDevices, sink: Collector
) -> list[ConnectorBase]:
    sensor_asset = {s.id: s.asset_id for s in plant.sensors}
    actuator_asset = {a.id: a.asset_id for a in plant.actuators}
    out = []
    for source in devices.sources():
        bindings = Bindings.of(
            [
                (b, sensor_asset[b.sensor_id])
                for b in plant.sensor_bindings
                if b.source_id == source.id
            ],
            [
                (b, actuator_asset[b.actuator_id])
                for b in plant.actuator_bindings
                if b.source_id == source.id
            ],
        )
        connector = make_connector(source, bindings, sink)
        await connector.start()
        out.append(connector)
    return out


@pytest.fixture
async def example_devices(
    example: PlantDescription,
) -> AsyncIterator[tuple[DemoDevices, Collector, dict[str, ConnectorBase]]]:
    settings = DemoSettings(seed=7, speedup=60, publish_interval_s=0.5)
    async with DemoDevices(example, settings) as devices:
        sink = Collector()
        connectors = await _connectors(example, devices, sink)
        try:
            yield devices, sink, {c.source.id: c for c in connectors}
        finally:
            for c in connectors:
                await c.aclose()


async def test_example_devices_feed_every_sensor(
    example_devices, example: PlantDescription
) -> None:
    devices, sink, connectors = example_devices
    ends = devices.endpoints()
    assert ends["opcua-ps"].startswith("opc.tcp://127.0.0.1:")
    assert ends["modbus-line-a"].startswith("modbus://127.0.0.1:")
    assert devices.broker is not None and devices.broker.kind == "mosquitto"
    bound = {b.sensor_id: b.source_id for b in example.sensor_bindings}
    for sid in bound:
        await sink.reaches(sid, lambda v: True, within=20)
    assert sink.sources == bound  # each sensor arrived through its own protocol
    # the wire round trip (scale/offset, data types) gives back plausible engineering values
    last = {k: v[-1] for k, v in sink.values.items()}
    assert 150 < last["st-3.oven_temp"] < 200  # uint16, scale 0.1, offset -40
    assert 2800 < last["pump-101.speed"] < 3000
    assert 15 < last["zone-1.temperature"] < 30
    # values move: noisy, and the wearing pump's vibration climbs (60x plant time)
    await sink.reaches("pump-101.flow", lambda v: True)
    first_vib = float(np.mean(sink.values["pump-101.vibration"][:3]))
    await asyncio.sleep(8)  # 8 plant minutes
    assert len(set(sink.values["pump-101.flow"])) > 3
    late_vib = float(np.mean(sink.values["pump-101.vibration"][-3:]))
    assert late_vib > first_vib * 1.15, (first_vib, late_vib)


async def test_opcua_and_mqtt_setpoints_change_the_plant(
    example_devices, example: PlantDescription
) -> None:
    devices, sink, connectors = example_devices
    binding = {b.actuator_id: b for b in example.actuator_bindings}
    flow0 = await sink.reaches("pump-101.flow", lambda v: v > 120)
    out = await connectors["opcua-ps"].write(binding["pump-101.speed_sp"], 2200.0)
    assert out.ok, out
    assert devices.plant.setpoints["pump-101.speed_sp"] == 2200.0
    refused = await connectors["opcua-ps"].write(binding["pump-101.speed_sp"], 5000.0)
    assert not refused.ok and refused.confirmed_value == pytest.approx(2200.0), refused
    assert devices.plant.setpoints["pump-101.speed_sp"] == 2200.0
    await sink.reaches("pump-101.speed", lambda v: v < 2300)
    await sink.reaches("pump-101.flow", lambda v: v < flow0 * 0.75)

    out = await connectors["mqtt-hq"].write(binding["zone-3.temp_sp"], 24.5)
    assert out.ok and out.confirmed_value == pytest.approx(24.5), out
    assert devices.plant.setpoints["zone-3.temp_sp"] == 24.5
    refused = await connectors["mqtt-hq"].write(binding["zone-3.temp_sp"], 40.0)
    assert not refused.ok and "outside" in refused.message
    assert devices.plant.setpoints["zone-3.temp_sp"] == 24.5
    await sink.reaches("zone-3.temperature", lambda v: v > 22.5, within=20)


async def test_modbus_setpoint_and_amqtt_broker() -> None:
    plant = parse_plant(SMALL_PLANT)
    settings = DemoSettings(seed=1, speedup=10, publish_interval_s=0.2, broker="amqtt")
    async with DemoDevices(plant, settings) as devices:
        assert devices.broker is not None and devices.broker.kind == "amqtt"
        sink = Collector()
        connectors = {c.source.id: c for c in await _connectors(plant, devices, sink)}
        try:
            speed0 = await sink.reaches("sp-pump.speed", lambda v: v > 2800)
            assert speed0 == pytest.approx(devices.plant.value("sp-pump.speed"), rel=0.01)
            await sink.reaches("sp-pump.vibration", lambda v: 1.0 < v < 5.0)
            flow0 = await sink.reaches("sp-pump.flow", lambda v: v > 50)
            await sink.reaches("sp-zone.co2", lambda v: v > 300)
            binding = {b.actuator_id: b for b in plant.actuator_bindings}
            out = await connectors["sp-modbus"].write(binding["sp-pump.speed_sp"], 2000.0)
            assert out.ok, out
            await sink.reaches("sp-pump.speed", lambda v: v < 2100)
            await sink.reaches("sp-pump.flow", lambda v: v < flow0 * 0.7)
            assert devices.plant.setpoints["sp-pump.speed_sp"] == 2000.0
            out = await connectors["sp-mqtt"].write(binding["sp-zone.temp_sp"], 17.0)
            assert out.ok, out
            assert devices.plant.setpoints["sp-zone.temp_sp"] == 17.0
        finally:
            for c in connectors.values():
                await c.aclose()
    assert devices.broker is None and devices.devices == []


async def test_configured_broker_is_used(mosquitto_url: str) -> None:
    plant = parse_plant(SMALL_PLANT)
    settings = DemoSettings(seed=2, publish_interval_s=0.2, mqtt_url=mosquitto_url)
    async with DemoDevices(plant, settings) as devices:
        assert devices.broker is None
        assert devices.endpoints()["sp-mqtt"] == mosquitto_url
        sink = Collector()
        connectors = await _connectors(plant, devices, sink)
        try:
            await sink.reaches("sp-zone.temperature", lambda v: 10 < v < 30)
            assert sink.sources["sp-zone.temperature"] == "sp-mqtt"
        finally:
            for c in connectors:
                await c.aclose()


# ---- `twinql demo`, the way a new user runs it ----------------------------------------


async def demo_ready(base: str, proc: subprocess.Popen[bytes], within: float = 120.0) -> None:
    async with httpx.AsyncClient(timeout=2.0) as client:

        async def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"twinql demo exited early with {proc.returncode}")
            with contextlib.suppress(httpx.HTTPError):  # not listening yet
                r = await client.get(f"{base}/readyz")
                return r.status_code == 200 and r.json().get("status") == "ready"
            return False

        await eventually(ready, within=within, every=0.5, what="twinql demo ready")


LIVE = """subscription($ids: [ID!]) {
  liveReadings(sensorIds: $ids) { readings { sensorId value timestamp quality } }
}"""
WRITE = """mutation($v: Float!) {
  writeSetpoint(actuatorId: "pump-101.speed_sp", value: $v, reason: "e2e demo test") {
    status confirmedValue message
  }
}"""


async def test_twinql_demo_end_to_end(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINQL_")}
    env["TWINQL_GRAPH_HEAP"] = "512m"
    log = (tmp_path / "demo.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - the child outlives this call by design
        [
            sys.executable,
            "-m",
            "api.cli",
            "--log-level",
            "info",
            "demo",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--speedup",
            "20",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        await demo_ready(base, proc)
        tokens = json.loads((tmp_path / "data" / "first-keys.json").read_text())
        admin = next(t["key"] for t in tokens if t["role"] == "admin")
        async with connect(base, admin) as ws:
            await ws.subscribe(LIVE, {"ids": ["pump-101.flow", "pump-101.speed"]})
            seen: dict[str, list[float]] = defaultdict(list)
            deadline = time.monotonic() + 30
            while len(seen["pump-101.flow"]) < 3 and time.monotonic() < deadline:
                data = await ws.next(within=15)
                for r in data["liveReadings"]["readings"]:
                    seen[r["sensorId"]].append(r["value"])
            assert len(seen["pump-101.flow"]) >= 3, seen
            flow0 = seen["pump-101.flow"][-1]
            assert 100 < flow0 < 250

            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.post(
                    f"{base}/graphql",
                    json={"query": WRITE, "variables": {"v": 2100.0}},
                    headers={"Authorization": f"Bearer {admin}"},
                )
            body = r.json()
            assert "errors" not in body, body
            assert body["data"]["writeSetpoint"]["confirmedValue"] == pytest.approx(2100.0)

            # the simulated pump slows down and its flow drops, seen live
            deadline = time.monotonic() + 30
            speed = flow = None
            while time.monotonic() < deadline:
                data = await ws.next(within=15)
                for r in data["liveReadings"]["readings"]:
                    if r["sensorId"] == "pump-101.speed":
                        speed = r["value"]
                    else:
                        flow = r["value"]
                if speed is not None and speed < 2200 and flow is not None and flow < flow0 * 0.75:
                    break
            assert speed is not None and speed < 2200, speed
            assert flow is not None and flow < flow0 * 0.75, (flow0, flow)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = await asyncio.to_thread(proc.wait, 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
            raise
        finally:
            log.close()
    output = (tmp_path / "demo.log").read_text(errors="replace")
    # SIGINT: a graceful shutdown, then the conventional exit status of an interrupt
    assert code in (0, 130), output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert "Application shutdown complete" in output, output[-3000:]
    # nothing the demo started is left listening: API, devices, broker
    ports = [port] + [int(p) for p in re.findall(r"//127\.0\.0\.1:(\d+)", output)]
    assert len(ports) >= 4, output[-3000:]
    for p in ports:
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", p)) != 0, f"port {p} still listening"
