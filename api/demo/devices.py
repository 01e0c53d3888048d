"""``DemoDevices``: the simulated plant behind real OPC UA, Modbus TCP and MQTT endpoints.

One device per data source of the plant: an asyncua server per ``opcua`` source, a
pymodbus server per ``modbus`` source (both on free loopback ports) and an MQTT gateway
client per ``mqtt`` source, on the configured broker or one the demo starts. A tick loop
(``tick_hz``) applies the setpoints clients wrote, advances the physics, and publishes
the sensor values every ``publish_interval_s``.

``sources()`` gives the plant's data sources with the endpoints actually used, for the
caller to store in the graph so the connectors find the devices::

    async with DemoDevices(plant, DemoSettings()) as devices:
        await repo.sources.upsert(devices.sources())
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, replace
from typing import Protocol

from api.demo.broker import BrokerKind, DemoBroker, free_port, start_broker
from api.demo.modbus import ModbusDemoDevice
from api.demo.mqtt import MqttDemoDevice
from api.demo.opcua import OpcUaDemoDevice
from api.demo.plant import DemoPlant, WearFault
from graph.model import DataSource, DeviceProtocol
from graph.plantfile import PlantDescription
from graph.timeutil import utcnow

__all__ = ["DemoDevices", "DemoSettings"]

_log = logging.getLogger("twinql.demo")


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """``speedup`` runs plant time that many times faster than the wall clock;
    ``warmup_s`` of plant time run before the devices start (``twinql demo`` runs four
    bearing thermal time constants, so temperatures start settled and the health
    baseline is not a warm-up)."""

    seed: int = 0
    speedup: float = 1.0
    tick_hz: float = 10.0
    publish_interval_s: float = 1.0
    mqtt_url: str | None = None
    broker: BrokerKind = "auto"
    host: str = "127.0.0.1"
    fault: WearFault | None = WearFault()
    warmup_s: float = 120.0


class _Device(Protocol):
    source: DataSource
    endpoint: str

    async def start(self, plant: DemoPlant) -> None: ...

    async def aclose(self) -> None: ...

    async def publish(self, plant: DemoPlant, now) -> None: ...  # noqa: ANN001

    async def poll(self, plant: DemoPlant) -> None: ...


class DemoDevices:
    """Async context manager running the simulated devices of ``plant``."""

    def __init__(self, plant: PlantDescription, settings: DemoSettings | None = None) -> None:
        self.settings = settings or DemoSettings()
        self.description = plant
        self.plant = DemoPlant(
            plant,
            seed=self.settings.seed,
            speedup=self.settings.speedup,
            fault=self.settings.fault,
            warmup_s=self.settings.warmup_s,
        )
        self.devices: list[_Device] = []
        self.broker: DemoBroker | None = None
        self._task: asyncio.Task[None] | None = None
        self.ticks = 0

    async def __aenter__(self) -> DemoDevices:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _build(self, broker_url: str | None) -> None:
        p, st = self.description, self.settings
        sensor_asset = {s.id: s.asset_id for s in p.sensors}
        actuator_asset = {a.id: a.asset_id for a in p.actuators}
        for source in p.data_sources:
            sensors = [b for b in p.sensor_bindings if b.source_id == source.id]
            actuators = [b for b in p.actuator_bindings if b.source_id == source.id]
            if source.protocol is DeviceProtocol.OPCUA:
                self.devices.append(
                    OpcUaDemoDevice(source, sensors, actuators, free_port(st.host), st.host)
                )
            elif source.protocol is DeviceProtocol.MODBUS:
                self.devices.append(
                    ModbusDemoDevice(source, sensors, actuators, free_port(st.host), st.host)
                )
            elif source.protocol is DeviceProtocol.MQTT and broker_url is not None:
                self.devices.append(
                    MqttDemoDevice(
                        source,
                        [(b, sensor_asset[b.sensor_id]) for b in sensors],
                        [(b, actuator_asset[b.actuator_id]) for b in actuators],
                        broker_url,
                    )
                )

    async def start(self) -> None:
        st = self.settings
        try:
            broker_url = st.mqtt_url
            if broker_url is None and any(
                s.protocol is DeviceProtocol.MQTT for s in self.description.data_sources
            ):
                self.broker = await start_broker(st.broker, st.host)
                broker_url = self.broker.url
            self._build(broker_url)
            for device in self.devices:
                await device.start(self.plant)
            self._task = asyncio.create_task(self._loop(), name="demo-devices")
        except BaseException:
            await self.aclose()
            raise
        for line in self.describe():
            _log.info("%s", line)

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        devices, self.devices = self.devices, []
        for device in reversed(devices):
            try:
                await device.aclose()
            except Exception:
                _log.exception("stopping demo device %s", device.source.id)
        broker, self.broker = self.broker, None
        if broker is not None:
            await broker.aclose()

    async def _loop(self) -> None:
        st = self.settings
        period = 1.0 / st.tick_hz
        last = next_publish = time.monotonic()
        while True:
            await asyncio.sleep(max(0.0, period - (time.monotonic() - last)))
            now = time.monotonic()
            try:
                for device in self.devices:
                    await device.poll(self.plant)
                self.plant.advance(min(now - last, 1.0))
                self.ticks += 1
                if now >= next_publish:
                    next_publish = max(next_publish + st.publish_interval_s, now)
                    stamp = utcnow()
                    for device in self.devices:
                        await device.publish(self.plant, stamp)
            except Exception:
                _log.exception("demo tick failed")
            last = now

    def endpoints(self) -> dict[str, str]:
        """Data source id -> the endpoint its simulated device listens on (or uses)."""
        return {d.source.id: d.endpoint for d in self.devices}

    def sources(self) -> list[DataSource]:
        """The plant's data sources, their endpoints pointing at the running devices."""
        ends = self.endpoints()
        return [
            replace(s, endpoint=ends[s.id]) for s in self.description.data_sources if s.id in ends
        ]

    def describe(self) -> list[str]:
        """One line per device, for the banner."""
        names = {
            DeviceProtocol.OPCUA: "OPC UA server",
            DeviceProtocol.MODBUS: "Modbus TCP server",
            DeviceProtocol.MQTT: "MQTT gateway",
        }
        lines = [
            f"{names[d.source.protocol]} for {d.source.id}: {d.endpoint}" for d in self.devices
        ]
        if self.broker is not None:
            lines.append(f"MQTT broker started by the demo ({self.broker.kind}): {self.broker.url}")
        fault = self.plant.fault
        if fault is not None and self.plant.fault_asset is not None:
            lines.append(
                f"injected fault: {self.plant.fault_asset} bearing wears from "
                f"{self.plant.wear():.2f} to {fault.target:.2f} over {fault.duration_s / 60:.0f} min"
                f" of plant time (speed-up {self.settings.speedup:g}x)"
            )
        return lines
