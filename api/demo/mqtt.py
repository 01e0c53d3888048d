"""The demo's MQTT device: a gateway publishing telemetry and answering setpoint commands.

Telemetry goes to ``assets/{asset}/telemetry`` as ``{"timestamp": .., "values": {address:
raw}}`` (one message per asset, QoS 1); commands arrive on ``assets/{asset}/actuators/{address}/set``
as ``{"correlation_id", "value"}`` and are answered on ``.../ack`` with ``{"correlation_id",
"ok", "value", "message"}``, the scheme of ``ingest.connectors.mqtt``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from collections import defaultdict
from datetime import datetime
from urllib.parse import urlsplit

import aiomqtt

from api.demo.plant import DemoPlant
from graph.errors import TwinqlError
from graph.model import ActuatorBinding, DataSource, SensorBinding
from ingest.connectors.mqtt_codec import TopicKind, ack_topic, parse_topic
from ingest.connectors.scaling import to_raw

__all__ = ["MqttDemoDevice"]

_log = logging.getLogger("twinql.demo.mqtt")


class MqttDemoDevice:
    """One MQTT client for one data source, talking to the broker at ``broker_url``."""

    def __init__(
        self,
        source: DataSource,
        sensors: list[tuple[SensorBinding, str]],
        actuators: list[tuple[ActuatorBinding, str]],
        broker_url: str,
    ) -> None:
        self.source = source
        self.endpoint = broker_url
        parts = urlsplit(broker_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 1883
        self._username, self._password = parts.username, parts.password
        self._telemetry: dict[str, list[SensorBinding]] = defaultdict(list)
        for b, asset in sensors:
            self._telemetry[asset].append(b)
        self._commands = {(asset, b.address): b for b, asset in actuators}
        self._client: aiomqtt.Client | None = None
        self._task: asyncio.Task[None] | None = None
        self._plant: DemoPlant | None = None
        self._connected = asyncio.Event()
        self.acks = 0

    async def start(self, plant: DemoPlant, connect_within_s: float = 10.0) -> None:
        self._plant = plant
        self._task = asyncio.create_task(self._run(), name=f"demo-mqtt-{self.source.id}")
        try:
            await asyncio.wait_for(self._connected.wait(), connect_within_s)
        except TimeoutError:
            await self.aclose()
            raise ConnectionError(f"demo MQTT device cannot reach {self.endpoint}") from None

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        filters = sorted({f"assets/{asset}/actuators/+/set" for asset, _ in self._commands})
        while True:
            try:
                async with aiomqtt.Client(
                    self._host,
                    self._port,
                    username=self._username,
                    password=self._password,
                    identifier=f"twinql-demo-{self.source.id}-{uuid.uuid4().hex[:6]}",
                ) as client:
                    for f in filters:
                        await client.subscribe(f, qos=1)
                    self._client = client
                    self._connected.set()
                    async for message in client.messages:
                        await self._on_command(client, str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                _log.warning("demo MQTT device %s: %s; reconnecting", self.source.id, exc)
            finally:
                self._client = None
            await asyncio.sleep(1.0)

    async def publish(self, plant: DemoPlant, now: datetime) -> None:
        client = self._client
        if client is None:
            return
        stamp = now.isoformat()
        for asset, bindings in self._telemetry.items():
            values = {
                b.address: round(to_raw(plant.value(b.sensor_id), b.scale, b.offset), 6)
                for b in bindings
            }
            payload = json.dumps({"timestamp": stamp, "values": values})
            try:
                await client.publish(f"assets/{asset}/telemetry", payload, qos=1)
            except aiomqtt.MqttError as exc:
                _log.warning("demo MQTT device %s: publish failed: %s", self.source.id, exc)
                return

    async def poll(self, plant: DemoPlant) -> None:
        """Commands are applied as they arrive; nothing to poll."""

    async def _on_command(self, client: aiomqtt.Client, topic: str, payload: object) -> None:
        ref = parse_topic(topic)
        if ref is None or ref.kind is not TopicKind.COMMAND or ref.name is None:
            return
        binding = self._commands.get((ref.asset_id, ref.name))
        text = (
            payload.decode("utf-8", "replace")
            if isinstance(payload, bytes | bytearray)
            else str(payload)
        )
        try:
            doc = json.loads(text)
        except (ValueError, RecursionError):
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("correlation_id"), str):
            _log.warning(
                "demo MQTT device %s: unreadable command on %s: %r",
                self.source.id,
                topic,
                text[:200],
            )
            return
        ack: dict[str, object] = {"correlation_id": doc["correlation_id"]}
        raw = doc.get("value")
        assert self._plant is not None
        if binding is None:
            ack.update(ok=False, message=f"no actuator {ref.name} on {ref.asset_id}")
        elif isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            ack.update(ok=False, message=f"value must be a finite number, got {raw!r}")
        else:
            try:
                applied = self._plant.write(
                    binding.actuator_id, raw * binding.scale + binding.offset
                )
                ack.update(
                    ok=True, value=to_raw(applied, binding.scale, binding.offset), message="applied"
                )
            except TwinqlError as exc:
                ack.update(ok=False, message=exc.message)
        await client.publish(ack_topic(ref.asset_id, ref.name), json.dumps(ack), qos=1)
        self.acks += 1
