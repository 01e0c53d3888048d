"""What every device connector shares: callbacks, status, bindings, write outcomes.

A connector reads one ``DataSource`` (one broker, one OPC UA server, one Modbus device)
and hands ``RawReading`` batches to an async *sink* (the pipeline's ingest); a sink may
answer with a future that resolves once the readings are durable (the connector
manager's does), which an acknowledging connector (MQTT QoS 1) waits for before it
acknowledges the message. Payloads it
cannot attribute to a sensor go to an async *error sink* as ``DeadLetter`` objects, with
the raw text and a reason. Payloads it can attribute but cannot parse become
``RawReading``s whose ``value`` is the offending text (so validation rejects them) with
``raw`` set and ``metadata["error"]`` holding the parser's reason.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from graph.errors import ValidationError
from graph.model import ActuatorBinding, DataSource, SensorBinding
from graph.timeutil import utcnow
from ingest.reading import RawReading

__all__ = [
    "AssetEvent",
    "Bindings",
    "Connector",
    "ConnectorState",
    "ConnectorStatus",
    "DeadLetter",
    "ErrorSink",
    "EventSink",
    "SetpointWriter",
    "Sink",
    "WriteOutcome",
    "check_setpoint",
    "log_dead_letter",
]

_log = logging.getLogger("twinql.ingest.connectors")


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A payload a connector could not turn into readings, kept for inspection."""

    source_id: str
    raw: str
    reason: str
    topic: str | None = None
    asset_id: str | None = None
    sensor_id: str | None = None
    received_at: datetime = field(default_factory=utcnow)


@dataclass(frozen=True, slots=True)
class AssetEvent:
    """An ``assets/{asset}/events/{kind}`` message: stored as-is in ``events``."""

    source_id: str
    asset_id: str
    kind: str
    payload: str
    timestamp: datetime | None = None
    received_at: datetime = field(default_factory=utcnow)


# A sink may answer with a future of the readings' durability (None: nothing to wait for).
Sink = Callable[[list[RawReading]], Awaitable["asyncio.Future[None] | None"]]
ErrorSink = Callable[[DeadLetter], Awaitable[None]]
EventSink = Callable[[AssetEvent], Awaitable[None]]


async def log_dead_letter(letter: DeadLetter) -> None:
    """Default error sink: a warning in the log (the status counts it too)."""
    _log.warning(
        "dead letter from %s (%s): %s; raw=%r",
        letter.source_id,
        letter.topic,
        letter.reason,
        letter.raw[:500],
    )


class ConnectorState(StrEnum):
    CONNECTED = "connected"
    CONNECTING = "connecting"
    DISCONNECTED = "disconnected"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ConnectorStatus:
    """A snapshot for GraphQL. Counters run from the connector's creation."""

    source_id: str
    protocol: str
    endpoint: str
    state: ConnectorState
    connected_since: datetime | None = None
    last_value_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    messages: int = 0  # MQTT messages, OPC UA bursts, Modbus poll cycles
    readings: int = 0  # RawReadings handed to the sink
    errors: int = 0  # dead letters, failed reads, sink failures
    reconnects: int = 0
    restarts: int = 0  # restarts of the connector loop after an unexpected error
    overflows: int = 0  # incoming messages that found the queue full (dead-lettered)
    pauses: int = 0  # times reading paused because the incoming queue was full (MQTT)
    writes: int = 0
    write_failures: int = 0


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    """Result of a setpoint write: ``ok`` only when the device confirmed the value."""

    ok: bool
    confirmed_value: float | None
    message: str


def check_setpoint(value: object) -> float:
    """Writers refuse anything but a finite number (range checks are the caller's)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"setpoint must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValidationError(f"setpoint must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class Bindings:
    """The bindings of one data source, with the asset of every bound point.

    ``sensor_asset`` / ``actuator_asset`` map sensor/actuator ids to their asset id
    (the ``HAS_SENSOR`` / ``HAS_ACTUATOR`` parent); MQTT topics and RawReadings need it.
    ``sensor_sampling_s``: the sampling rate registered for a sensor, where one is (OPC
    UA asks the server to sample its node at that rate).
    """

    sensors: tuple[SensorBinding, ...] = ()
    actuators: tuple[ActuatorBinding, ...] = ()
    sensor_asset: Mapping[str, str] = field(default_factory=dict)
    actuator_asset: Mapping[str, str] = field(default_factory=dict)
    sensor_sampling_s: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sensors", tuple(self.sensors))
        object.__setattr__(self, "actuators", tuple(self.actuators))
        object.__setattr__(self, "sensor_asset", MappingProxyType(dict(self.sensor_asset)))
        object.__setattr__(self, "actuator_asset", MappingProxyType(dict(self.actuator_asset)))
        sampling = MappingProxyType(dict(self.sensor_sampling_s))
        object.__setattr__(self, "sensor_sampling_s", sampling)
        for s in self.sensors:
            if s.sensor_id not in self.sensor_asset:
                raise ValidationError(f"sensor {s.sensor_id} has no asset in sensor_asset")
        for a in self.actuators:
            if a.actuator_id not in self.actuator_asset:
                raise ValidationError(f"actuator {a.actuator_id} has no asset in actuator_asset")

    @classmethod
    def of(
        cls,
        sensors: Sequence[tuple[SensorBinding, str]] = (),
        actuators: Sequence[tuple[ActuatorBinding, str]] = (),
        sampling_s: Mapping[str, float] | None = None,
    ) -> Bindings:
        """Build from ``(binding, asset_id)`` pairs (and sampling rates by sensor id)."""
        return cls(
            sensors=tuple(b for b, _ in sensors),
            actuators=tuple(b for b, _ in actuators),
            sensor_asset={b.sensor_id: a for b, a in sensors},
            actuator_asset={b.actuator_id: a for b, a in actuators},
            sensor_sampling_s=dict(sampling_s or {}),
        )

    def check_source(self, source_id: str) -> None:
        bindings: tuple[SensorBinding | ActuatorBinding, ...] = (*self.sensors, *self.actuators)
        for b in bindings:
            if b.source_id != source_id:
                raise ValidationError(
                    f"binding for data source {b.source_id} given to connector of {source_id}"
                )


@runtime_checkable
class SetpointWriter(Protocol):
    async def write(self, binding: ActuatorBinding, value: float) -> WriteOutcome:
        """Write ``value`` (engineering units) and confirm it; raise ValidationError on NaN."""
        ...


@runtime_checkable
class Connector(SetpointWriter, Protocol):
    """The port the connector manager drives. Every adapter is an async context manager."""

    @property
    def source(self) -> DataSource: ...

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...

    def status(self) -> ConnectorStatus: ...

    async def reconfigure(self, bindings: Bindings) -> None: ...
