"""MQTT connector (aiomqtt): readings in by topic scheme, setpoints out with an ack.

Subscriptions cover the bound assets only (see ``mqtt_codec.subscription_filters``), at
QoS 1, optionally shared (``$share/{group}/...``). Sensor topics match a binding by
sensor id or by its address; telemetry fields match a binding's address. One message is
one batch for the sink.

Every message is handled in isolation: one that cannot be read or handled (not UTF-8,
not JSON, nested too deep, a failing sink...) becomes a dead letter with its raw payload
and the reason, and the connector goes on with the next. The session (stable client id,
persistent session, acknowledgement once the message's readings are durable, bounded queue whose overflow is
counted and dead-lettered) is described in ``_mqtt_session``.

Commands: ``{"correlation_id": .., "value": <raw>, "timestamp": ..}`` published at QoS 1
to ``assets/{asset}/actuators/{address}/set``; the device answers on ``.../ack`` with
``{"correlation_id": .., "ok": true|false, "value": <applied raw>, "message": ..}``. The
write is confirmed only for ``"ok": true`` with an applied value equal to the requested
one (within ``ack_tolerance``), as the OPC UA and Modbus read-backs are.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import logging
import uuid
from collections import OrderedDict, deque
from datetime import datetime
from pathlib import Path

import aiomqtt

from graph.errors import ValidationError
from graph.model import ActuatorBinding, DataSource, DeviceProtocol, SensorBinding
from graph.timeutil import utcnow
from ingest import jsonbounded
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
from ingest.connectors.mqtt_codec import (
    PayloadError,
    TopicKind,
    TopicRef,
    command_topic,
    parse_telemetry_payload,
    parse_timestamp,
    parse_topic,
    subscription_filters,
)
from ingest.connectors.mqtt_memo import SessionMemo
from ingest.connectors.mqtt_messages import (
    ack_outcome,
    data_readings,
    raw_text,
    telemetry_readings,
)
from ingest.connectors.mqtt_session import (
    ReadFlow,
    acknowledge,
    clean_start,
    client_identifier,
    default_instance_id,
    drop,
    make_client,
    watch,
)
from ingest.connectors.runtime import Backoff, ConnectorBase, raise_if_cancelled
from ingest.connectors.scaling import to_raw
from ingest.connectors.settings import MqttSettings

__all__ = ["MqttConnector"]

_ARRIVALS = 20_000  # first-arrival times kept for redelivered messages (see _arrival)

_log = logging.getLogger("twinql.ingest.connectors.mqtt")

# A QoS 1 message waiting for its PUBACK, with the durability futures of its readings.
_Ack = tuple[aiomqtt.Message, list[asyncio.Future[None]]]


class MqttConnector(ConnectorBase):
    protocol = DeviceProtocol.MQTT

    def __init__(
        self,
        source: DataSource,
        bindings: Bindings,
        sink: Sink,
        *,
        on_error: ErrorSink | None = None,
        on_event: EventSink | None = None,
        instance_id: str | None = None,
        session_dir: Path | None = None,
    ) -> None:
        super().__init__(source, bindings, sink, on_error=on_error)
        self.settings = MqttSettings.from_source(source)
        self.client_id = client_identifier(
            source.id, instance_id or default_instance_id(), self.settings.client_id
        )
        # what the broker's session holds, kept across processes (see mqtt_memo)
        self._memo = SessionMemo(session_dir, self.client_id) if session_dir else None
        self._broker = f"{self.settings.host}:{self.settings.port}"
        self._memo_saved = False
        # when each QoS 1 message first arrived, by (packet id, topic, payload digest):
        # one the broker sends again (DUP) keeps that time, so its timestamp-less
        # readings and its dead letters are the same rows as the first time (stored once)
        self._redelivered: set[int] = set()
        self._arrivals: OrderedDict[tuple[int, str, bytes], datetime] = OrderedDict()
        self._arrived: datetime | None = None
        self._on_event = on_event
        self._client: aiomqtt.Client | None = None
        self._pending: dict[str, asyncio.Future[dict[str, object]]] = {}
        self._fresh_session = True  # the first connection starts clean, later ones resume
        self._subscribed: set[str] = set()  # filters the broker's session holds for us
        self._overflow: deque[aiomqtt.Message] = deque()
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

    async def _run(self) -> None:
        st = self.settings
        backoff = Backoff(st.reconnect.min_s, st.reconnect.max_s)
        b = self._bindings
        filters = subscription_filters(
            b.sensor_asset.values() if b.sensors else (),
            (b.actuator_asset[a.actuator_id] for a in b.actuators),
            shared_group=st.shared_group,
            events=self._on_event is not None,
        )
        first = True
        while True:
            if not first:
                self._note_reconnect()
            first = False
            self._set_state(ConnectorState.CONNECTING)
            try:
                fresh = self._fresh_session and not await self._resumable()
                if fresh:
                    await clean_start(st, self.client_id)
                flow = ReadFlow(on_pause=lambda: self._count(pauses=1))
                if fresh:
                    self._arrivals.clear()
                self._redelivered.clear()
                client = make_client(
                    st,
                    self.client_id,
                    first=fresh,
                    on_overflow=self._overflowed,
                    flow=flow,
                    redelivered=self._redelivered,
                )
                async with client:
                    self._fresh_session = False
                    if fresh:
                        self._subscribed.clear()
                    await self._subscribe(client, filters)
                    self._client = client
                    self._set_state(ConnectorState.CONNECTED)
                    backoff.reset()
                    acks: asyncio.Queue[_Ack] = asyncio.Queue(st.max_queued_messages)
                    acker = asyncio.create_task(
                        self._acker(client, acks), name=f"twinql-mqtt-acks-{self._source.id}"
                    )
                    flow.install()  # the guarded reader (see mqtt_session: dead sockets)
                    watchdog = asyncio.create_task(
                        watch(client, flow), name=f"twinql-mqtt-watch-{self._source.id}"
                    )
                    try:
                        async for message in client.messages:
                            waits = await self._take_durable(message)
                            if message.qos > 0:
                                await acks.put((message, waits))
                            raise_if_cancelled()
                            if self._overflow:
                                await self._drain_overflow(client)
                    finally:
                        for helper in (acker, watchdog):
                            helper.cancel()
                            with contextlib.suppress(asyncio.CancelledError):
                                await helper
            except aiomqtt.MqttError as exc:
                self._record_error(f"mqtt: {exc}", state=ConnectorState.ERROR)
            except OSError as exc:  # ssl.SSLError included: TLS files unreadable or malformed
                self._record_error(f"mqtt: {exc!r}", state=ConnectorState.ERROR)
            finally:
                self._client = None
                self._fail_pending("connection to the broker lost")
            await self._drain_overflow(None)
            await self._back_off(backoff.next_delay())

    async def _resumable(self) -> bool:
        """Whether the first connection of this connector can resume the session an
        earlier process left on the broker: its memo names this broker (the filters it
        holds are then known, and the stale ones are unsubscribed)."""
        if self._memo is None:
            return False
        held = await asyncio.to_thread(self._memo.load, self._broker)
        if held is None:
            return False
        self._subscribed = held
        _log.info(
            "MQTT %s: resuming the broker's session of %s (%d filters)",
            self._source.id,
            self.client_id,
            len(held),
        )
        return True

    async def _subscribe(self, client: aiomqtt.Client, filters: list[str]) -> None:
        """Subscribe ``filters``; drop what a resumed session holds from older bindings.
        The memo is saved before any message of a new filter is taken."""
        wanted = set(filters)
        stale = sorted(self._subscribed - wanted)
        if stale:
            await client.unsubscribe(stale)
        if filters:
            await client.subscribe([(f, self.settings.qos) for f in filters])
        changed = wanted != self._subscribed or stale
        self._subscribed = wanted
        if self._memo is not None and (changed or not self._memo_saved):
            await asyncio.to_thread(self._memo.save, self._broker, wanted)
            self._memo_saved = True

    async def forget_session(self) -> None:
        """The data source is gone: the next connector of this client id starts clean."""
        if self._memo is not None:
            await asyncio.to_thread(self._memo.forget)

    def _overflowed(self, message: aiomqtt.Message) -> None:
        """aiomqtt's queue is full: count the message and keep it for a dead letter.

        QoS 1 messages are always kept: they are unacknowledged until dead-lettered, so
        the broker's in-flight window bounds them. QoS 0 ("at most once") messages beyond
        another ``max_queued_messages`` are counted and logged as lost.
        """
        self._count(overflows=1)
        if message.qos > 0 or len(self._overflow) < self.settings.max_queued_messages:
            self._overflow.append(message)
            return
        self._record_error("incoming queue and overflow buffer full: a QoS 0 message was lost")
        _log.error(
            "MQTT %s: queue and overflow buffer full (%d each): QoS 0 message on %s lost",
            self._source.id,
            self.settings.max_queued_messages,
            message.topic,
        )

    async def _drain_overflow(self, client: aiomqtt.Client | None) -> None:
        """Dead-letter the overflowed messages (and acknowledge them: they are kept).

        After a lost connection (``client`` None) unacknowledged QoS 1 messages are left
        to the broker, which sends them again on the resumed session.
        """
        n = self.settings.max_queued_messages
        while self._overflow:
            message = self._overflow.popleft()
            if client is None and message.qos > 0:
                continue
            self._arrived = self._arrival(message, str(message.topic))
            await self._dead_letter(
                DeadLetter(
                    self._source.id,
                    raw_text(message.payload),
                    f"incoming queue full ({n} messages waiting): kept, not processed "
                    "(raise max_queued_messages or add instances with shared_group)",
                    str(message.topic),
                )
            )
            self._arrived = None
            if client is not None:
                acknowledge(client, message)

    async def _on_stopped(self) -> None:
        self._client = None
        self._fail_pending("connector stopped")

    def _fail_pending(self, reason: str) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError(reason))
        self._pending.clear()

    async def _acker(self, client: aiomqtt.Client, acks: asyncio.Queue[_Ack]) -> None:
        """Acknowledge messages in arrival order, each once its readings are durable.
        When they cannot be made durable: acknowledge nothing more, drop the connection
        (the broker delivers again whatever was not acknowledged)."""
        while True:
            message, waits = await acks.get()
            try:
                for wait in waits:
                    # shielded: the future may be shared (the manager's coalescer hands one
                    # future to every reading of a batch, of any connection); cancelling
                    # this task when the connection goes must not cancel it for the others
                    await asyncio.shield(wait)
            except Exception as exc:
                self._record_error(
                    f"mqtt: readings not durable, reconnecting unacknowledged: {exc}",
                    state=ConnectorState.ERROR,
                )
                _log.warning(
                    "MQTT %s: readings not durable (%s): dropping the connection so the "
                    "broker sends the unacknowledged messages again",
                    self._source.id,
                    exc,
                )
                drop(client)
                return
            acknowledge(client, message)

    # ---- incoming --------------------------------------------------------------------

    async def _take_durable(self, message: aiomqtt.Message) -> list[asyncio.Future[None]]:
        """Handle one message; the futures of the readings it gave the sink."""
        self._awaiting = []
        try:
            await self._take(message)
            return self._awaiting
        finally:
            self._awaiting = None

    def _arrival(self, message: aiomqtt.Message, topic: str) -> datetime:
        """When ``message`` first arrived: now, or for a QoS 1/2 message the broker sent
        again (DUP), the time its first delivery was taken (kept for the last
        ``_ARRIVALS`` messages, fewer than the 65,535 packet ids a session cycles
        through, so an id reused for a new message has left the table)."""
        now = utcnow()
        if message.qos == 0:
            return now
        payload = message.payload
        data = bytes(payload) if isinstance(payload, bytes | bytearray) else str(payload).encode()
        key = (message.mid, topic, hashlib.blake2b(data, digest_size=16).digest())
        first = None
        if message.mid in self._redelivered:
            self._redelivered.discard(message.mid)
            first = self._arrivals.get(key)
        self._arrivals[key] = first or now
        self._arrivals.move_to_end(key)
        if len(self._arrivals) > _ARRIVALS:
            self._arrivals.popitem(last=False)
        return first or now

    async def _take(self, message: aiomqtt.Message) -> None:
        """Handle one message; whatever goes wrong with it becomes its dead letter."""
        topic = str(message.topic)
        self._arrived = self._arrival(message, topic)
        try:
            await self._handle(topic, message.payload)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            _log.exception("MQTT %s: cannot handle a message on %s", self._source.id, topic)
            await self._dead_letter(
                DeadLetter(
                    self._source.id,
                    raw_text(message.payload),
                    f"cannot handle the message: {exc!r}",
                    topic,
                )
            )
        finally:
            self._arrived = None

    async def _dead_letter(self, letter: DeadLetter) -> None:
        """A letter of the message being handled carries its first arrival time."""
        if self._arrived is not None:
            letter = dataclasses.replace(letter, received_at=self._arrived)
        await super()._dead_letter(letter)

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
        await self._emit(
            data_readings(binding, ref.asset_id, topic, text, self._source.id, self._arrived)
        )

    async def _on_telemetry(self, ref: TopicRef, topic: str, text: str) -> None:
        try:
            telemetry = parse_telemetry_payload(text)
        except PayloadError as exc:
            await self._dead_letter(
                DeadLetter(self._source.id, text, str(exc), topic, ref.asset_id)
            )
            return
        readings, unbound = telemetry_readings(
            self._by_field, ref.asset_id, topic, text, telemetry, self._source.id, self._arrived
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
            doc = jsonbounded.loads(text)
        except RecursionError:
            await self._dead_letter(
                DeadLetter(self._source.id, text, "event JSON nests too deep", topic, ref.asset_id)
            )
            return
        except ValueError:
            doc = None  # events are free-form: a text payload is stored as received
        if isinstance(doc, dict) and doc.get("timestamp") is not None:
            try:
                ts = parse_timestamp(doc["timestamp"])
            except PayloadError:
                ts = None  # stored with the time it was received
        assert ref.name is not None
        await self._on_event(AssetEvent(self._source.id, ref.asset_id, ref.name, text, ts))
        self._count(messages=1)

    async def _on_ack(self, ref: TopicRef, topic: str, text: str) -> None:
        try:
            doc = jsonbounded.loads(text)
        except (ValueError, RecursionError):
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
            async with asyncio.timeout(timeout):
                ack = await fut
        except TimeoutError:
            return self._write_done(
                WriteOutcome(False, None, f"no ack within {timeout:g}s (correlation {correlation})")
            )
        except (aiomqtt.MqttError, ConnectionError) as exc:
            return self._write_done(WriteOutcome(False, None, f"publish failed: {exc}"))
        finally:
            self._pending.pop(correlation, None)
        return self._write_done(ack_outcome(ack, binding, value, self.settings.ack_tolerance))
