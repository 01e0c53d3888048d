"""OPC UA connector (asyncua): monitored items in, read-back-confirmed writes out.

One subscription per connection (``publishing_interval_ms``) with one monitored item per
bound NodeId (``sampling_interval_ms``). The notifications of one publish response are
one batch for the sink. Status codes map to quality: Good -> good, Uncertain ->
suspect, Bad -> bad. The source timestamp is used when the server sends one, else the
server timestamp.

The connector runs its own reconnect loop (asyncua's ``auto_reconnect`` is off): when
the client's watchdog reports the connection lost, or the server signals a bad
subscription status, the client is dropped, and after a backoff a new session is made
and every item subscribed again. That also covers a server restart, where the old
session is gone.
"""

from __future__ import annotations

import asyncio
import logging
import math
from datetime import UTC, datetime

from asyncua import Client, ua
from asyncua.common.subscription import DataChangeEvent, OverflowPolicy, StatusChangeEvent

from graph.errors import ValidationError
from graph.model import ActuatorBinding, DataSource, DeviceProtocol, SensorBinding
from graph.timeutil import utcnow
from ingest.connectors.base import (
    Bindings,
    ConnectorState,
    DeadLetter,
    ErrorSink,
    Sink,
    WriteOutcome,
    check_setpoint,
)
from ingest.connectors.runtime import Backoff, ConnectorBase, raise_if_cancelled
from ingest.connectors.scaling import to_raw
from ingest.connectors.settings import OpcUaSettings
from ingest.reading import Quality, RawReading

__all__ = ["OpcUaConnector", "quality_of"]

_log = logging.getLogger("twinql.ingest.connectors.opcua")

_ERRORS = (OSError, TimeoutError, ConnectionError, ua.UaError)
_MAX_BATCH = 10_000
_BURST_GAP_S = 0.002  # notifications of one publish arrive together; this closes a batch

_INT_RANGES = {
    ua.VariantType.SByte: (-(2**7), 2**7 - 1),
    ua.VariantType.Byte: (0, 2**8 - 1),
    ua.VariantType.Int16: (-(2**15), 2**15 - 1),
    ua.VariantType.UInt16: (0, 2**16 - 1),
    ua.VariantType.Int32: (-(2**31), 2**31 - 1),
    ua.VariantType.UInt32: (0, 2**32 - 1),
    ua.VariantType.Int64: (-(2**63), 2**63 - 1),
    ua.VariantType.UInt64: (0, 2**64 - 1),
}


def quality_of(status: ua.StatusCode | None) -> Quality:
    if status is None or status.is_good():
        return Quality.GOOD
    if status.is_uncertain():
        return Quality.SUSPECT
    return Quality.BAD


def _node_key(address: str) -> str:
    try:
        return ua.NodeId.from_string(address).to_string()
    except (ValueError, ua.UaError, IndexError) as exc:
        raise ValidationError(
            f"OPC UA address {address!r} is not a NodeId like 'ns=2;s=pump-101.speed': {exc}"
        ) from None


def _aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _to_variant_value(raw: float, vtype: ua.VariantType) -> object:
    if vtype is ua.VariantType.Boolean:
        return raw != 0
    if vtype in (ua.VariantType.Float, ua.VariantType.Double):
        return raw
    if vtype in _INT_RANGES:
        lo, hi = _INT_RANGES[vtype]
        if not math.isclose(raw, round(raw), abs_tol=1e-9):
            raise ValidationError(f"raw setpoint {raw} is not an integer for {vtype.name}")
        if not lo <= round(raw) <= hi:
            raise ValidationError(f"raw setpoint {raw} is out of {vtype.name} range [{lo}, {hi}]")
        return round(raw)
    raise ValidationError(f"cannot write a number to a node of type {vtype.name}")


def sampling_interval_ms(rates_s: list[float | None], default_ms: float) -> float:
    """The sampling interval to ask for a node: the fastest rate registered for the
    sensors bound to it, else the source's ``sampling_interval_ms``."""
    known = [r for r in rates_s if r is not None]
    return min(known) * 1000.0 if known else default_ms


def queue_size(sampling_ms: float, publishing_ms: float) -> int:
    """Room for every sample taken between two publishes (at most 100); 0 lets the
    server choose, for ``sampling_ms`` 0 (fastest) or -1 (the publishing interval)."""
    if sampling_ms <= 0:
        return 0
    return max(1, min(100, math.ceil(publishing_ms / sampling_ms)))


class OpcUaConnector(ConnectorBase):
    protocol = DeviceProtocol.OPCUA

    def __init__(
        self,
        source: DataSource,
        bindings: Bindings,
        sink: Sink,
        *,
        on_error: ErrorSink | None = None,
    ) -> None:
        super().__init__(source, bindings, sink, on_error=on_error)
        self.settings = OpcUaSettings.from_source(source)
        self._client: Client | None = None
        self._vtypes: dict[str, ua.VariantType] = {}
        self._index(bindings)

    def _index(self, bindings: Bindings) -> None:
        self._by_node: dict[str, list[SensorBinding]] = {}
        for b in bindings.sensors:
            self._by_node.setdefault(_node_key(b.address), []).append(b)
        for a in bindings.actuators:
            _node_key(a.address)
        self._interval_ms = {
            key: sampling_interval_ms(
                [bindings.sensor_sampling_s.get(b.sensor_id) for b in found],
                self.settings.sampling_interval_ms,
            )
            for key, found in self._by_node.items()
        }

    async def reconfigure(self, bindings: Bindings) -> None:
        self._index(bindings)
        await super().reconfigure(bindings)

    def _restart_backoff(self) -> Backoff:
        return Backoff(self.settings.reconnect.min_s, self.settings.reconnect.max_s)

    # ---- connection loop -------------------------------------------------------------

    async def _make_client(self) -> Client:
        st = self.settings
        client = Client(st.url, timeout=st.timeout_s, watchdog_intervall=st.watchdog_s)
        if st.username:
            client.set_user(st.username)
        if st.password:
            client.set_password(st.password)
        if st.security:
            await client.set_security_string(st.security)
        return client

    async def _run(self) -> None:
        st = self.settings
        backoff = Backoff(st.reconnect.min_s, st.reconnect.max_s)
        first = True
        while True:
            if not first:
                self._note_reconnect()
            first = False
            self._set_state(ConnectorState.CONNECTING)
            client: Client | None = None
            lost = asyncio.Event()

            async def on_lost(exc: Exception, lost: asyncio.Event = lost) -> None:
                lost.set()

            opened = False
            try:
                client = await self._make_client()
                client.connection_lost_callback = on_lost
                await client.connect()
                opened = True
                sub = await client.create_subscription(
                    st.publishing_interval_ms,
                    None,
                    queue_maxsize=st.queue_size,
                    overflow=OverflowPolicy.DISCONNECT,
                )
                await self._monitor(client, sub)
                self._client = client
                self._set_state(ConnectorState.CONNECTED)
                backoff.reset()
                await self._consume(sub, lost)
            except _ERRORS as exc:
                self._record_error(f"opcua: {exc!r}", state=ConnectorState.ERROR)
            finally:
                self._client = None
                if client is not None and opened and not lost.is_set():
                    await self._disconnect(client)
                elif client is not None:
                    # Never opened, or the server is gone: there is no session or secure
                    # channel to close politely (asyncua would log each attempt to, with
                    # a traceback, at ERROR); closing the socket is all there is to do.
                    client.disconnect_socket()
            await self._back_off(backoff.next_delay())

    async def _monitor(self, client: Client, sub) -> None:  # noqa: ANN001 - asyncua Subscription
        groups: dict[float, list[str]] = {}
        for key in self._by_node:
            groups.setdefault(self._interval_ms[key], []).append(key)
        for interval, keys in sorted(groups.items()):
            results = await sub.subscribe_data_change(
                [client.get_node(k) for k in keys],
                sampling_interval=interval,
                queuesize=queue_size(interval, self.settings.publishing_interval_ms),
            )
            await self._report_unmonitored(keys, results)

    async def _report_unmonitored(self, keys: list[str], results: list[object]) -> None:
        for key, result in zip(keys, results, strict=True):
            if isinstance(result, ua.StatusCode):
                for b in self._by_node[key]:
                    await self._dead_letter(
                        DeadLetter(
                            self._source.id,
                            key,
                            f"cannot monitor {key}: {result.name}",
                            key,
                            self._bindings.sensor_asset[b.sensor_id],
                            b.sensor_id,
                        )
                    )

    async def _disconnect(self, client: Client) -> None:
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                await client.disconnect()
        except (*_ERRORS, asyncio.CancelledError) as exc:
            raise_if_cancelled()  # ours to honour; a CancelledError of asyncua's own is not
            _log.debug("disconnect from %s: %r", self.settings.url, exc)

    async def _consume(self, sub, lost: asyncio.Event) -> None:  # noqa: ANN001
        wait = min(self.settings.watchdog_s, 0.5)
        while True:
            raise_if_cancelled()
            if lost.is_set():
                raise ConnectionError("connection to the OPC UA server lost")
            event = await sub.next_event(timeout=wait)
            if event is None:
                continue
            batch = [event]
            while len(batch) < _MAX_BATCH:
                more = await sub.next_event(timeout=_BURST_GAP_S)
                if more is None:
                    break
                batch.append(more)
            readings: list[RawReading] = []
            failure: str | None = None
            for ev in batch:
                if isinstance(ev, DataChangeEvent):
                    readings.extend(self._readings(ev))
                elif isinstance(ev, StatusChangeEvent) and not ev.notification.Status.is_good():
                    failure = f"subscription status {ev.notification.Status.name}"
            await self._emit(readings)
            if failure is not None:
                raise ConnectionError(failure)

    def _readings(self, ev: DataChangeEvent) -> list[RawReading]:
        dv = ev.data.monitored_item.Value
        key = ev.node.nodeid.to_string()
        bindings = self._by_node.get(key, [])
        now = utcnow()
        ts = (_aware(dv.SourceTimestamp) or _aware(dv.ServerTimestamp)) if dv else None
        status = dv.StatusCode if dv else None
        quality = quality_of(status)
        out = []
        for b in bindings:
            value = ev.value
            raw = None
            if isinstance(value, bool):
                value = 1.0 if value else 0.0
            if isinstance(value, int | float):
                value = value * b.scale + b.offset
            elif value is not None:
                raw = repr(value)
            meta: dict[str, object] = {"node": key}
            if status is not None and not status.is_good():
                meta["status"] = status.name
            out.append(
                RawReading(
                    sensor_id=b.sensor_id,
                    value=value,
                    timestamp=ts,
                    asset_id=self._bindings.sensor_asset[b.sensor_id],
                    quality=quality,
                    metadata=meta,
                    source=self._source.id,
                    received_at=now,
                    raw=raw,
                )
            )
        return out

    # ---- setpoints -------------------------------------------------------------------

    async def write(self, binding: ActuatorBinding, value: float) -> WriteOutcome:
        """Write the node (its own variant type), then read it back to confirm."""
        value = check_setpoint(value)
        if binding.source_id != self._source.id:
            raise ValidationError(f"actuator {binding.actuator_id} is not bound to this source")
        key = _node_key(binding.address)
        raw = to_raw(value, binding.scale, binding.offset)
        connected = await self.wait_connected(self.settings.timeout_s)
        client = self._client
        if client is None or not connected:
            return self._write_done(WriteOutcome(False, None, "not connected to the server"))
        node = client.get_node(key)
        try:
            vtype = self._vtypes.get(key)
            if vtype is None:
                vtype = await node.read_data_type_as_variant_type()
                self._vtypes[key] = vtype
            payload = _to_variant_value(raw, vtype)
            await node.write_value(ua.DataValue(ua.Variant(payload, vtype)))
            back = await node.read_value()
        except ua.UaStatusCodeError as exc:
            return self._write_done(WriteOutcome(False, None, f"server refused: {exc}"))
        except _ERRORS as exc:
            return self._write_done(WriteOutcome(False, None, f"write failed: {exc!r}"))
        if isinstance(back, bool):
            back = 1.0 if back else 0.0
        if not isinstance(back, int | float):
            return self._write_done(WriteOutcome(False, None, f"read back {back!r}"))
        confirmed = back * binding.scale + binding.offset
        ok = math.isclose(confirmed, value, rel_tol=1e-6, abs_tol=1e-9)
        message = "confirmed by read-back" if ok else f"read back {confirmed}, wrote {value}"
        return self._write_done(WriteOutcome(ok, confirmed, message))
