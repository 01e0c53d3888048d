"""The connector manager: one running connector per device data source in the graph.

``reconcile()`` reads every ``DataSource`` with its bindings and brings the running
connectors in line: new sources are started, sources whose protocol, endpoint or
settings changed are restarted, sources whose bindings changed are reconfigured, and
deleted sources are stopped. It runs at start and whenever the registry changes (the
composition root calls ``on_registry_change``), and every ``resync_s`` for edits made
elsewhere. A source that cannot be built (bad
endpoint, MQTT without a broker) shows as an ``error`` status, never as a crash; a
device that is down shows as ``connecting``/``error`` while its connector retries with
backoff.

Where things go: readings to ``sink`` (the pipeline's ingest), coalesced into batches
by ``ReadingCoalescer`` (ingest/_reading_coalescer.py), dead letters to
``reject`` as ``RejectedRow``s (the pipeline's writer keeps them in
``rejected_readings``), MQTT asset events to the store's ``events`` table (batched,
through a bounded queue) and to ``events``, a ``Fanout`` that the GraphQL asset-events
subscription reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from graph.bolt.sources import SourceConfig
from graph.changes import RegistryChange, RegistryKind
from graph.errors import TwinqlError, ValidationError
from graph.model import ActuatorBinding, DataSource, DeviceProtocol
from graph.redact import redact_url
from graph.timeutil import utcnow
from ingest.connectors import (
    AssetEvent,
    Bindings,
    ConnectorState,
    ConnectorStatus,
    DeadLetter,
    WriteOutcome,
    make_connector,
)
from ingest.connectors.runtime import ConnectorBase
from ingest.event_writer import EventWriter
from ingest.fanout import Fanout, FanoutSubscription
from ingest.reading_coalescer import PipelineSink, ReadingCoalescer
from ingest.store import EventRow, RejectedRow, rejected_id

__all__ = [
    "ConnectorManager",
    "Fanout",
    "FanoutSubscription",
    "ManagerSettings",
    "ReconcileReport",
    "SourceProvider",
]

log = logging.getLogger("twinql.ingest.manager")

DEVICE_PROTOCOLS = frozenset({DeviceProtocol.MQTT, DeviceProtocol.OPCUA, DeviceProtocol.MODBUS})

RejectSink = Callable[[list[RejectedRow]], Awaitable[None]]
EventStore = Callable[[Sequence[EventRow]], Awaitable[int]]
ConnectorFactory = Callable[..., ConnectorBase]


class SourceProvider(Protocol):
    """Where the data sources come from (``GraphRepository.sources``)."""

    async def configs(self, source_ids: Iterable[str] | None = None) -> list[SourceConfig]: ...


@dataclass(frozen=True, slots=True)
class ManagerSettings:
    """``default_mqtt_url``: broker of MQTT sources with an empty endpoint
    (``TWINQL_MQTT_URL``). ``instance_id``: this process among several twinql instances,
    part of MQTT client ids (default: the host name). ``mqtt_session_dir``: where MQTT
    connectors remember what their broker session holds, so the next process resumes it
    (``ingest.connectors.mqtt_memo``; None: every process starts its sessions clean).
    ``event_queue``: asset events
    waiting for the store; when it is full the connector that delivered the next one
    waits (counted). ``close_timeout_s``: bound on stopping one connector.
    ``resync_s``: how often to reconcile with the graph even without a change this
    process saw (another twinql instance, or ``twinql load``, edited the data sources);
    0 turns it off. ``linger_s``: how long connector readings gather before they go to
    the pipeline as one batch (2 ms: under load, one validation, one live message and
    one store transaction per few messages instead of per message; the pipeline takes
    the next batch while the last is being made durable)."""

    default_mqtt_url: str | None = None
    instance_id: str | None = None
    mqtt_session_dir: Path | None = None
    event_queue: int = 10_000
    event_batch: int = 500
    event_flush_s: float = 0.2
    events_fanout_maxsize: int = 1_000
    close_timeout_s: float = 5.0
    linger_s: float = 0.002
    max_pending: int = 50_000
    resync_s: float = 30.0

    def __post_init__(self) -> None:
        if self.event_queue < 1 or self.event_batch < 1 or self.events_fanout_maxsize < 1:
            raise ValidationError("manager queue sizes must be positive")
        if self.max_pending < 1 or self.linger_s < 0:
            raise ValidationError("max_pending must be positive and linger_s not negative")
        if self.event_flush_s <= 0 or self.close_timeout_s <= 0:
            raise ValidationError("manager intervals must be positive")
        if not self.resync_s >= 0:
            raise ValidationError("resync_s must not be negative (0: no periodic resync)")


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    started: tuple[str, ...] = ()
    restarted: tuple[str, ...] = ()
    reconfigured: tuple[str, ...] = ()
    stopped: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()


@dataclass(slots=True)
class _Running:
    connector: ConnectorBase
    key: tuple[object, ...]
    bindings_key: tuple[object, ...]


@dataclass(slots=True)
class _Counters:
    dead_letters: int = 0
    events: int = 0
    events_stored: int = 0
    event_queue_waits: int = 0
    event_store_errors: int = 0
    reconciles: int = 0
    reconcile_errors: int = 0


def _source_key(s: DataSource) -> tuple[object, ...]:
    return (s.protocol.value, s.endpoint, json.dumps(s.settings, sort_keys=True, default=str))


def _bindings_key(b: Bindings) -> tuple[object, ...]:
    return (
        b.sensors,
        b.actuators,
        tuple(sorted(b.sensor_asset.items())),
        tuple(sorted(b.actuator_asset.items())),
        tuple(sorted(b.sensor_sampling_s.items())),
    )


def _failed_status(source: DataSource, message: str) -> ConnectorStatus:
    return ConnectorStatus(
        source_id=source.id,
        protocol=source.protocol.value,
        endpoint=source.endpoint,
        state=ConnectorState.ERROR,
        last_error=message,
        last_error_at=utcnow(),
        errors=1,
    )


class ConnectorManager:
    def __init__(
        self,
        sources: SourceProvider,
        sink: PipelineSink,
        *,
        reject: RejectSink,
        store_events: EventStore,
        settings: ManagerSettings | None = None,
        factory: ConnectorFactory = make_connector,
    ) -> None:
        self._sources = sources
        self._resync_task: asyncio.Task[None] | None = None
        self._reject = reject
        self.settings = settings or ManagerSettings()
        self._readings = ReadingCoalescer(
            sink,
            reject,
            max_pending=self.settings.max_pending,
            linger_s=self.settings.linger_s,
            close_timeout_s=self.settings.close_timeout_s,
        )
        self._factory = factory
        self._running: dict[str, _Running] = {}
        self._failed: dict[str, ConnectorStatus] = {}
        self._lock = asyncio.Lock()
        self._closed = False
        self.events: Fanout[AssetEvent] = Fanout(self.settings.events_fanout_maxsize)
        # Final setpoint commands, published by whoever runs them (the API's control).
        self.outcomes: Fanout[Any] = Fanout(self.settings.events_fanout_maxsize)
        self.counters = _Counters()
        self._event_writer = EventWriter(
            store_events,
            reject,
            self.counters,
            queue=self.settings.event_queue,
            batch=self.settings.event_batch,
            flush_s=self.settings.event_flush_s,
            close_timeout_s=self.settings.close_timeout_s,
        )

    # ---- lifecycle -------------------------------------------------------------------

    async def start(self) -> ReconcileReport:
        """Start the event writer and every connector (devices may still be down)."""
        self._event_writer.start()
        self._readings.start()
        report = await self.reconcile()
        if self.settings.resync_s > 0 and self._resync_task is None:
            self._resync_task = asyncio.create_task(self._resync(), name="twinql-resync")
        return report

    async def _resync(self) -> None:
        """Reconcile every ``resync_s``: a failure is counted and logged by reconcile."""
        while True:
            await asyncio.sleep(self.settings.resync_s)
            await self.reconcile()

    async def aclose(self) -> None:
        """Stop every connector (each bounded by ``close_timeout_s``) and flush events."""
        resync, self._resync_task = self._resync_task, None
        if resync is not None:
            resync.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await resync
        async with self._lock:
            self._closed = True
            running, self._running = list(self._running.values()), {}
            self._failed.clear()
            await asyncio.gather(*(self._stop(r.connector) for r in running))
        await self._readings.aclose()  # what is queued goes to the pipeline first
        await self._event_writer.aclose()
        self.events.close()
        self.outcomes.close()

    async def on_registry_change(self, change: RegistryChange) -> None:
        """Registry listener: a change to sources, devices or assets may touch what a
        connector reads or writes (relations and maintenance do not)."""
        if change.touches(
            RegistryKind.SOURCES, RegistryKind.SENSORS, RegistryKind.ACTUATORS, RegistryKind.ASSETS
        ):
            await self.reconcile()

    async def reconcile(self) -> ReconcileReport:
        """Bring the running connectors in line with the graph's data sources."""
        async with self._lock:
            if self._closed:
                return ReconcileReport()
            self.counters.reconciles += 1
            try:
                configs = await self._sources.configs()
            except TwinqlError as exc:
                self.counters.reconcile_errors += 1
                log.warning("cannot read data sources, keeping connectors as they are: %s", exc)
                return ReconcileReport()
            return await self._apply(configs)

    async def _apply(self, configs: list[SourceConfig]) -> ReconcileReport:
        report: dict[str, list[str]] = {k: [] for k in ReconcileReport.__slots__}
        wanted = {c.source.id: c for c in configs if c.source.protocol in DEVICE_PROTOCOLS}
        for sid in [s for s in self._running if s not in wanted]:
            gone = self._running.pop(sid).connector
            await self._stop(gone)
            await gone.forget_session()
            report["stopped"].append(sid)
        for sid in [s for s in self._failed if s not in wanted]:
            del self._failed[sid]
        for sid, config in wanted.items():
            outcome = await self._apply_one(config)
            if outcome:
                report[outcome].append(sid)
        return ReconcileReport(**{k: tuple(v) for k, v in report.items()})

    async def _apply_one(self, config: SourceConfig) -> str | None:
        sid = config.source.id
        try:
            source = self._effective(config.source)
            bindings = Bindings(
                sensors=config.sensors,
                actuators=config.actuators,
                sensor_asset=config.sensor_asset,
                actuator_asset=config.actuator_asset,
                sensor_sampling_s=config.sensor_sampling_s,
            )
        except ValidationError as exc:
            return await self._fail(config.source, exc.message)
        key, bkey = _source_key(source), _bindings_key(bindings)
        current = self._running.get(sid)
        if current is not None and current.key == key:
            if current.bindings_key == bkey:
                return None
            try:
                await current.connector.reconfigure(bindings)
            except ValidationError as exc:
                await self._stop(self._running.pop(sid).connector)
                return await self._fail(source, exc.message)
            current.bindings_key = bkey
            log.info("data source %s reconfigured (%d points)", sid, len(bindings.sensors))
            return "reconfigured"
        if current is not None:
            await self._stop(self._running.pop(sid).connector)
        try:
            connector = self._factory(
                source,
                bindings,
                self._readings.put,
                on_error=self._dead_letter,
                on_event=self._on_event,
                instance_id=self.settings.instance_id,
                session_dir=self.settings.mqtt_session_dir,
            )
        except ValidationError as exc:
            return await self._fail(source, exc.message)
        self._failed.pop(sid, None)
        await connector.start()
        self._running[sid] = _Running(connector, key, bkey)
        log.info(
            "data source %s (%s %s) started", sid, source.protocol, redact_url(source.endpoint)
        )
        return "restarted" if current is not None else "started"

    async def _fail(self, source: DataSource, message: str) -> str:
        if source.id in self._running:
            await self._stop(self._running.pop(source.id).connector)
        previous = self._failed.get(source.id)
        if previous is None or previous.last_error != message:
            log.warning("data source %s cannot run: %s", source.id, message)
        self._failed[source.id] = _failed_status(source, message)
        return "failed"

    def _effective(self, source: DataSource) -> DataSource:
        if source.protocol is DeviceProtocol.MQTT and not source.endpoint.strip():
            url = self.settings.default_mqtt_url
            if not url:
                raise ValidationError(
                    f"data source {source.id} has no endpoint and no default broker "
                    "is configured (TWINQL_MQTT_URL)"
                )
            return replace(source, endpoint=url)
        return source

    async def _stop(self, connector: ConnectorBase) -> None:
        try:
            await asyncio.wait_for(connector.aclose(), self.settings.close_timeout_s)
        except TimeoutError:
            log.warning(
                "connector %s did not stop within %gs",
                connector.source.id,
                self.settings.close_timeout_s,
            )

    # ---- queries ---------------------------------------------------------------------

    def status(self, source_id: str) -> ConnectorStatus | None:
        """The source's connector status; None for sources without a device connector."""
        running = self._running.get(source_id)
        if running is not None:
            return running.connector.status()
        return self._failed.get(source_id)

    def statuses(self) -> dict[str, ConnectorStatus]:
        out = {sid: r.connector.status() for sid, r in self._running.items()}
        out.update(self._failed)
        return out

    def connector(self, source_id: str) -> ConnectorBase | None:
        running = self._running.get(source_id)
        return running.connector if running is not None else None

    # ---- setpoints -------------------------------------------------------------------

    async def write(self, binding: ActuatorBinding, value: float) -> WriteOutcome:
        """Write through the connector of ``binding.source_id`` and confirm.

        The outcome is ``ok`` only when the device acknowledged or read back the value;
        a source without a running connector gives a failed outcome saying why.
        """
        connector = self.connector(binding.source_id)
        if connector is None or binding not in connector.bindings.actuators:
            await self.reconcile()  # the binding may be newer than our last reconcile
            connector = self.connector(binding.source_id)
        if connector is None:
            failed = self._failed.get(binding.source_id)
            why = failed.last_error if failed is not None else "it is not a device source"
            return WriteOutcome(
                False, None, f"data source {binding.source_id} has no running connector: {why}"
            )
        if binding.actuator_id not in connector.bindings.actuator_asset:
            return WriteOutcome(
                False,
                None,
                f"actuator {binding.actuator_id} is not bound to {binding.source_id}",
            )
        current = next(
            (a for a in connector.bindings.actuators if a.actuator_id == binding.actuator_id),
            binding,
        )
        return await connector.write(current, value)

    # ---- dead letters and events -----------------------------------------------------

    async def _dead_letter(self, letter: DeadLetter) -> None:
        self.counters.dead_letters += 1
        where = f" on {letter.topic}" if letter.topic else ""
        reason = f"{letter.source_id}{where}: {letter.reason}"
        row = RejectedRow(
            # a message delivered again carries its first arrival time: one letter
            id=rejected_id("connector", letter.raw, reason, letter.received_at.isoformat()),
            received_at=letter.received_at,
            sensor_id=letter.sensor_id or "",
            asset_id=letter.asset_id or "",
            raw=letter.raw,
            reason=reason,
        )
        await self._reject([row])

    async def _on_event(self, event: AssetEvent) -> None:
        self.counters.events += 1
        self.events.publish(event)
        await self._event_writer.put(
            EventRow(
                ts=event.timestamp or event.received_at,
                asset_id=event.asset_id,
                kind=event.kind,
                payload=event.payload,
            )
        )
