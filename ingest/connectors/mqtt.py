"""MQTT connector (aiomqtt): readings in by topic scheme, setpoints out with an ack.

Subscriptions cover the bound assets only (see ``mqtt_codec.subscription_filters``), at
QoS 1, optionally shared (``$share/{group}/...``). Sensor topics match a binding by
sensor id or by its address; telemetry fields match a binding's address. One message is
one batch for the sink.

Commands: ``{"correlation_id": .., "value": <raw>, "timestamp": ..}`` published at QoS 1
to ``assets/{asset}/actuators/{address}/set``; the device answers on ``.../ack`` with
``{"correlation_id": .., "ok": true|false, "value": <applied raw>, "message": ..}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import uuid

import aiomqtt

from graph.errors import ValidationError
from graph.model import ActuatorBinding, DataSource, Protocol, SensorBinding, utcnow
from ingest.connectors._runtime import Backoff, ConnectorBase
from ingest.connectors.base import (
    AssetEvent,
    Bindings,
    ConnectorState,
    DeadLetter,
    ErrorSink,
    EventSink,
    Sink,
    WriteOutcome,
    check_setpoint,
)
from ingest.connectors.modbus_codec import to_raw
from ingest.connectors.mqtt_codec import (
    PayloadError,
    TopicKind,
    TopicRef,
    command_topic,
    parse_data_payload,
    parse_telemetry_payload,
    parse_timestamp,
    parse_topic,
    subscription_filters,
)
from ingest.connectors.settings import MqttSettings
from ingest.reading import RawReading

__all__ = ["MqttConnector"]

_log = logging.getLogger("twinql.ingest.connectors.mqtt")


def _scaled(value: object, scale: float, offset: float) -> object:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value * scale + offset
    return value


class MqttConnector(ConnectorBase):
    protocol = Protocol.MQTT

    def __init__(
        self,
        source: DataSource,
        bindings: Bindings,
        sink: Sink,
        *,
        on_error: ErrorSink | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        super().__init__(source, bindings, sink, on_error=on_error)
        self.settings = MqttSettings.from_source(source)
        self._on_event = on_event
        self._client: aiomqtt.Client | None = None
        self._pending: dict[str, asyncio.Future[dict[str, object]]] = {}
        self._index_bindings()

    def _index_bindings(self) -> None:
        b = self._bindings
        self._by_topic: dict[tuple[str, str], SensorBinding] = {}
        self._by_field: dict[tuple[str, str], SensorBinding] = {}
        for s in b.sensors:
            asset = b.sensor_asset[s.sensor_id]
            self._by_topic[(asset, s.address)] = s
            self._by_field[(asset, s.address)] = s
        for s in b.sensors:  # the sensor id wins over another binding's address
            self._by_topic[(b.sensor_asset[s.sensor_id], s.sensor_id)] = s

    async def start(self) -> None:
        self._index_bindings()
        await super().start()

    def _restart_backoff(self) -> Backoff:
        return Backoff(self.settings.reconnect.min_s, self.settings.reconnect.max_s)

    # ---- connection loop -------------------------------------------------------------

    def _make_client(self) -> aiomqtt.Client:
        st = self.settings
        identifier = st.client_id or f"twinql-{self._source.id}-{uuid.uuid4().hex[:8]}"
        return aiomqtt.Client(
            st.host,
            st.port,
            username=st.username,
            password=st.password,
            identifier=identifier,
            keepalive=st.keepalive_s,
            timeout=max(st.ack_timeout_s, 1.0),
            tls_context=ssl.create_default_context() if st.tls else None,
            max_queued_incoming_messages=st.max_queued_messages,
        )

    async def _run(self) -> None:
        backoff = Backoff(self.settings.reconnect.min_s, self.settings.reconnect.max_s)
        b = self._bindings
        filters = subscription_filters(
            b.sensor_asset.values() if b.sensors else (),
            (b.actuator_asset[a.actuator_id] for a in b.actuators),
            shared_group=self.settings.shared_group,
            events=self._on_event is not None,
        )
        first = True
        while True:
            if not first:
                self._note_reconnect()
            first = False
            self._set_state(ConnectorState.CONNECTING)
            try:
                async with self._make_client() as client:
                    if filters:
                        await client.subscribe([(f, self.settings.qos) for f in filters])
                    self._client = client
                    self._set_state(ConnectorState.CONNECTED)
                    backoff.reset()
                    async for message in client.messages:
                        await self._handle(str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                self._record_error(f"mqtt: {exc}", state=ConnectorState.ERROR)
            finally:
                self._client = None
                self._fail_pending("connection to the broker lost")
            await asyncio.sleep(backoff.next_delay())

    async def _on_stopped(self) -> None:
        self._client = None
        self._fail_pending("connector stopped")

    def _fail_pending(self, reason: str) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError(reason))
        self._pending.clear()

    # ---- incoming --------------------------------------------------------------------

    async def _handle(self, topic: str, payload: object) -> None:
        if isinstance(payload, bytes | bytearray):
            try:
                text = bytes(payload).decode("utf-8")
            except UnicodeDecodeError:
                await self._dead_letter(
                    DeadLetter(self._source.id, bytes(payload).hex(), "payload is not UTF-8", topic)
                )
                return
        else:
            text = "" if payload is None else str(payload)
        ref = parse_topic(topic)
        if ref is None:
            await self._dead_letter(
                DeadLetter(self._source.id, text, "topic outside the scheme", topic)
            )
        elif ref.kind is TopicKind.DATA:
            await self._on_data(ref, topic, text)
        elif ref.kind is TopicKind.TELEMETRY:
            await self._on_telemetry(ref, topic, text)
        elif ref.kind is TopicKind.EVENT:
            await self._on_asset_event(ref, topic, text)
        elif ref.kind is TopicKind.ACK:
            await self._on_ack(ref, topic, text)
        else:
            await self._dead_letter(
                DeadLetter(self._source.id, text, "unexpected command topic", topic, ref.asset_id)
            )

    async def _on_data(self, ref: TopicRef, topic: str, text: str) -> None:
        assert ref.name is not None
        binding = self._by_topic.get((ref.asset_id, ref.name))
        if binding is None:
            await self._dead_letter(
                DeadLetter(
                    self._source.id,
                    text,
                    f"sensor {ref.name} of asset {ref.asset_id} is not bound to {self._source.id}",
                    topic,
                    ref.asset_id,
                    ref.name,
                )
            )
            return
        now = utcnow()
        readings = []
        for item in parse_data_payload(text):
            meta: dict[str, object] = {"topic": topic}
            if item.error:
                meta["error"] = item.error
            readings.append(
                RawReading(
                    sensor_id=binding.sensor_id,
                    value=item.value
                    if item.error
                    else _scaled(item.value, binding.scale, binding.offset),
                    timestamp=item.timestamp,
                    asset_id=ref.asset_id,
                    unit=item.unit,
                    quality=item.quality,
                    metadata=meta,
                    source=self._source.id,
                    received_at=now,
                    raw=item.raw or text,
                )
            )
        await self._emit(readings)

    async def _on_telemetry(self, ref: TopicRef, topic: str, text: str) -> None:
        try:
            telemetry = parse_telemetry_payload(text)
        except PayloadError as exc:
            await self._dead_letter(
                DeadLetter(self._source.id, text, str(exc), topic, ref.asset_id)
            )
            return
        now = utcnow()
        readings = []
        unbound = []
        for name, value in telemetry.values.items():
            binding = self._by_field.get((ref.asset_id, name))
            if binding is None:
                unbound.append(name)
                continue
            readings.append(
                RawReading(
                    sensor_id=binding.sensor_id,
                    value=_scaled(value, binding.scale, binding.offset),
                    timestamp=telemetry.timestamp,
                    asset_id=ref.asset_id,
                    metadata={"topic": topic, "field": name},
                    source=self._source.id,
                    received_at=now,
                    raw=text,
                )
            )
        await self._emit(readings)
        if unbound:
            await self._dead_letter(
                DeadLetter(
                    self._source.id,
                    text,
                    f"telemetry fields not bound to {self._source.id}: {', '.join(unbound)}",
                    topic,
                    ref.asset_id,
                )
            )

    async def _on_asset_event(self, ref: TopicRef, topic: str, text: str) -> None:
        if self._on_event is None:  # not subscribed without an event sink
            await self._dead_letter(
                DeadLetter(self._source.id, text, "no event sink configured", topic, ref.asset_id)
            )
            return
        ts = None
        try:
            doc = json.loads(text)
            if isinstance(doc, dict) and doc.get("timestamp") is not None:
                ts = parse_timestamp(doc["timestamp"])
        except (ValueError, PayloadError):
            ts = None  # events are free-form: the payload is stored as received
        assert ref.name is not None
        await self._on_event(AssetEvent(self._source.id, ref.asset_id, ref.name, text, ts))
        self._count(messages=1)

    async def _on_ack(self, ref: TopicRef, topic: str, text: str) -> None:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("correlation_id"), str):
            await self._dead_letter(
                DeadLetter(
                    self._source.id, text, "ack without a correlation_id", topic, ref.asset_id
                )
            )
            return
        fut = self._pending.get(doc["correlation_id"])
        if fut is None:
            _log.debug("ack %s on %s is not ours (another instance?)", doc["correlation_id"], topic)
            return
        if not fut.done():
            fut.set_result(doc)

    # ---- setpoints -------------------------------------------------------------------

    async def write(self, binding: ActuatorBinding, value: float) -> WriteOutcome:
        """Publish the command and wait for the device's ack (``ack_timeout_s``)."""
        value = check_setpoint(value)
        asset = self._bindings.actuator_asset.get(binding.actuator_id)
        if asset is None or binding.source_id != self._source.id:
            raise ValidationError(f"actuator {binding.actuator_id} is not bound to this source")
        raw = to_raw(value, binding.scale, binding.offset)
        timeout = self.settings.ack_timeout_s
        if not await self.wait_connected(timeout) or self._client is None:
            return self._write_done(WriteOutcome(False, None, "not connected to the broker"))
        correlation = uuid.uuid4().hex
        fut: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
        self._pending[correlation] = fut
        payload = json.dumps(
            {"correlation_id": correlation, "value": raw, "timestamp": utcnow().isoformat()}
        )
        try:
            await self._client.publish(
                command_topic(asset, binding.address), payload, qos=self.settings.qos
            )
            ack = await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            return self._write_done(
                WriteOutcome(False, None, f"no ack within {timeout:g}s (correlation {correlation})")
            )
        except (aiomqtt.MqttError, ConnectionError) as exc:
            return self._write_done(WriteOutcome(False, None, f"publish failed: {exc}"))
        finally:
            self._pending.pop(correlation, None)
        return self._write_done(self._outcome(ack, binding))

    @staticmethod
    def _outcome(ack: dict[str, object], binding: ActuatorBinding) -> WriteOutcome:
        ok = ack.get("ok", True) is True
        applied = ack.get("value")
        confirmed = None
        if isinstance(applied, int | float) and not isinstance(applied, bool):
            confirmed = applied * binding.scale + binding.offset
        message = ack.get("message")
        text = message if isinstance(message, str) else ("acknowledged" if ok else "refused")
        return WriteOutcome(ok, confirmed, text)
