"""GraphQL subscriptions: live readings, asset events, setpoint outcomes.

Every subscription needs an API token (role viewer at least; the app refuses WebSocket
connections without one). Each subscriber reads its own bounded queue (the ingest
pipeline's ``LiveBus`` for readings, the connector manager's fan-outs for events and
outcomes): publishing never waits for a subscriber, and a subscriber that falls
behind loses its oldest updates and is told how many on its next message (``missed``).
A message carries every reading that arrived since the previous one: one accepted
batch when the subscriber keeps up, everything queued when it has fallen behind (it
catches up in one message instead of one per batch). ``liveReadings`` sends a list
of reading objects; ``liveReadingBatches`` the same readings as parallel columns.

Live readings take an optional ``throttleMs`` (at most one message per interval, with
the newest value of each sensor seen in it) and ``deadband`` (a reading is sent only
when it moved at least that much from the last value sent for its sensor, or its
quality changed). A subscription to an asset covers the asset and its descendants as
they are now: it follows the registry, so a sensor registered below the asset later (or
an asset moved in or out of the subtree) joins or leaves the stream within about a
second of the change.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import strawberry

from api.assets.types import Info
from api.common.scoping import see_or_not_found
from api.common.types import JSON
from api.control.schema import SetpointCommandNode
from api.permissions import needs
from api.readings.types import nullable_floats, utc_times
from graph.bolt.assets import MAX_DEPTH
from graph.bolt.commands import SetpointCommand
from graph.changes import RegistryChange, RegistryKind
from graph.errors import TwinqlError, Unavailable, ValidationError
from graph.timeutil import from_us
from ingest.connectors import AssetEvent
from ingest.pipeline import Missed, Subscription
from ingest.store import ReadingBatch

__all__ = [
    "LiveMessage",
    "LiveReadingBatchNode",
    "LiveValue",
    "SubscriptionRoot",
    "live_messages",
]

MAX_SENSORS = 10_000
MAX_QUEUE = 10_000
REFRESH_DELAY_S = 0.5  # a burst of registry writes (an import) costs one refresh
REFRESH_RETRY_S = 5.0  # after a refresh failed (graph unavailable)

log = logging.getLogger("twinql.api.subscriptions")


@dataclass(frozen=True, slots=True)
class LiveValue:
    sensor_id: str
    asset_id: str
    ts: datetime
    value: float | None
    quality: str


@dataclass(slots=True)
class LiveMessage:
    """One message for a subscriber: the readings as columns (a ``ReadingBatch``, no
    object per reading until a per-reading payload asks for one)."""

    batch: ReadingBatch = field(default_factory=ReadingBatch.empty)
    missed: int = 0
    missed_readings: int = 0

    @property
    def readings(self) -> list[LiveValue]:
        return [
            LiveValue(sid, aid, from_us(ts), None if math.isnan(v) else v, str(q))
            for ts, sid, aid, v, q in self.batch.rows()
        ]


class _Deadband:
    """Per sensor, the last value sent; a reading passes when it moved at least
    ``band`` from it, its quality changed, or either value is missing."""

    def __init__(self, band: float | None) -> None:
        self.band = band
        self.sent: dict[str, tuple[float, str]] = {}

    def thin(self, batch: ReadingBatch) -> ReadingBatch:
        band = self.band
        if band is None or not len(batch):
            return batch
        keep = np.zeros(len(batch), dtype=bool)
        sent = self.sent
        ids, values, qualities = (
            batch.sensor_id.tolist(),
            batch.value.tolist(),
            batch.quality.tolist(),
        )
        rows = zip(ids, values, qualities, strict=True)
        for i, (sid, v, q) in enumerate(rows):
            last = sent.get(sid)
            if (
                last is None
                or math.isnan(v)
                or math.isnan(last[0])
                or q != last[1]
                or abs(v - last[0]) >= band
            ):
                sent[sid] = (v, q)
                keep[i] = True
        return batch if keep.all() else batch.take(keep)


def _newest_per_sensor(batches: list[ReadingBatch]) -> ReadingBatch:
    """The last reading of each sensor, in order of each sensor's first appearance."""
    batch = ReadingBatch.concat(batches)
    last: dict[str, int] = {}
    for i, sid in enumerate(batch.sensor_id.tolist()):
        last[sid] = i
    if len(last) == len(batch):
        return batch
    return batch.take(np.fromiter(last.values(), dtype=np.int64, count=len(last)))


async def live_messages(
    sub: Subscription, *, throttle_s: float | None = None, deadband: float | None = None
) -> AsyncIterator[LiveMessage]:
    """Messages for one subscriber from its bus subscription (closed by the caller)."""
    band = _Deadband(deadband)
    msg = LiveMessage()
    gathered: list[ReadingBatch] = []
    last_emit = -math.inf

    def absorb(item: ReadingBatch | Missed) -> None:
        if isinstance(item, Missed):
            msg.missed += item.updates
            msg.missed_readings += item.readings
        else:
            gathered.append(item)

    while True:
        try:
            absorb(await sub.get())
            if throttle_s is None:
                await asyncio.sleep(0)  # one turn of the loop: batches arriving together
                for item in sub.ready():  # whatever else is queued: the same message
                    absorb(item)
            else:
                remaining = last_emit + throttle_s - time.monotonic()
                if remaining > 0:
                    try:
                        async with asyncio.timeout(remaining):
                            while True:
                                absorb(await sub.get())
                    except TimeoutError:
                        pass  # the interval is over: send what it gathered
        except StopAsyncIteration:
            return
        if gathered:
            if throttle_s is not None:
                msg.batch = band.thin(_newest_per_sensor(gathered))
            else:
                msg.batch = band.thin(ReadingBatch.concat(gathered))
            gathered.clear()
        if len(msg.batch) or msg.missed:
            last_emit = time.monotonic()
            yield msg
            msg = LiveMessage()


def _in_scope(batch: ReadingBatch, seen_now: frozenset[str] | set[str] | None) -> ReadingBatch:
    """The readings of assets a scoped caller sees (all of them for None)."""
    if seen_now is None or not len(batch):
        return batch
    ids = batch.asset_id.tolist()
    mask = np.fromiter(map(seen_now.__contains__, ids), dtype=bool, count=len(ids))
    return batch if mask.all() else batch.take(mask)


@strawberry.type(name="LiveReading")
class LiveReadingNode:
    sensor_id: strawberry.ID
    asset_id: strawberry.ID
    timestamp: datetime
    value: float | None
    quality: str


@strawberry.type(name="LiveReadings", description="Readings that arrived since the last message.")
class LiveReadingsNode:
    readings: list[LiveReadingNode]
    missed: int = strawberry.field(
        description="Updates dropped for this subscriber since its last message (it fell behind)."
    )
    missed_readings: int


@strawberry.type(
    name="LiveReadingBatch",
    description="Readings that arrived since the last message, as columns (one entry "
    "per reading at the same index in each list), like Series of `readings`.",
)
class LiveReadingBatchNode:
    sensor_ids: list[strawberry.ID]
    asset_ids: list[strawberry.ID]
    timestamps: list[datetime]
    values: list[float | None] = strawberry.field(description="Null: missing value.")
    qualities: list[str]
    missed: int = strawberry.field(
        description="Updates dropped for this subscriber since its last message (it fell behind)."
    )
    missed_readings: int

    @classmethod
    def from_message(cls, batch: ReadingBatch, m: LiveMessage) -> LiveReadingBatchNode:
        return cls(
            sensor_ids=batch.sensor_id.tolist(),
            asset_ids=batch.asset_id.tolist(),
            timestamps=utc_times(batch.ts),
            values=nullable_floats(batch.value),
            qualities=batch.quality.tolist(),
            missed=m.missed,
            missed_readings=m.missed_readings,
        )


def _reading_nodes(batch: ReadingBatch) -> list[LiveReadingNode]:
    values = nullable_floats(batch.value)
    return [
        LiveReadingNode(sensor_id=sid, asset_id=aid, timestamp=t, value=v, quality=q)
        for sid, aid, t, v, q in zip(
            batch.sensor_id.tolist(),
            batch.asset_id.tolist(),
            utc_times(batch.ts),
            values,
            batch.quality.tolist(),
            strict=True,
        )
    ]


@strawberry.type(name="AssetEventMessage")
class AssetEventNode:
    asset_id: strawberry.ID
    kind: str
    payload: str = strawberry.field(description="The event as received.")
    data: JSON | None = strawberry.field(description="The payload parsed, when it is JSON.")
    timestamp: datetime | None
    received_at: datetime
    source_id: strawberry.ID
    missed: int


@strawberry.type(name="SetpointOutcome")
class SetpointOutcomeNode:
    command: SetpointCommandNode
    missed: int


def _event_node(e: AssetEvent, missed: int) -> AssetEventNode:
    try:
        data = json.loads(e.payload)
    except ValueError:
        data = None
    return AssetEventNode(
        asset_id=strawberry.ID(e.asset_id),
        kind=e.kind,
        payload=e.payload,
        data=data,
        timestamp=e.timestamp,
        received_at=e.received_at,
        source_id=strawberry.ID(e.source_id),
        missed=missed,
    )


def _check_queue(buffer: int | None) -> int | None:
    if buffer is not None and not 1 <= buffer <= MAX_QUEUE:
        raise ValidationError(f"buffer must be between 1 and {MAX_QUEUE}")
    return buffer


async def _subtree_ids(info: Info, asset_id: str) -> set[str]:
    nodes = await info.context.repo.assets.subtree(asset_id, MAX_DEPTH)
    return {asset_id, *(n.asset.id for n in nodes)}


@contextlib.asynccontextmanager
async def _following_registry(
    info: Info, kinds: frozenset[RegistryKind], refresh: Callable[[], Awaitable[None]]
) -> AsyncIterator[None]:
    """While the block runs, ``refresh()`` after registry changes touching ``kinds``, a
    burst of changes at a time. A refresh that fails keeps the scope it had and is tried
    again later; it never ends the subscription."""
    registry = info.context.services.registry
    changed = asyncio.Event()

    async def listener(change: RegistryChange) -> None:
        if change.touches(*kinds):
            changed.set()

    async def follow() -> None:
        while True:
            await changed.wait()
            await asyncio.sleep(REFRESH_DELAY_S)
            changed.clear()
            try:
                await refresh()
            except Unavailable as exc:
                log.warning("subscription scope not refreshed, retrying: %s", exc)
                await asyncio.sleep(REFRESH_RETRY_S)
                changed.set()
            except TwinqlError as exc:  # the asset went away, or grew too large
                log.warning("subscription scope kept as it was: %s", exc)

    registry.listen(listener)
    task = asyncio.create_task(follow(), name="twinql-subscription-scope")
    try:
        yield
    finally:
        registry.unlisten(listener)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def _subtree_scope(info: Info, asset_id: str) -> AsyncIterator[set[str]]:
    """The ids of ``asset_id`` and its descendants, kept current while the block runs."""
    assets = await _subtree_ids(info, asset_id)

    async def refresh() -> None:
        fresh = await _subtree_ids(info, asset_id)
        assets.clear()  # in place: the subscription's filter holds this set
        assets.update(fresh)

    async with _following_registry(info, frozenset({RegistryKind.ASSETS}), refresh):
        yield assets


@contextlib.asynccontextmanager
async def visible_scope(info: Info) -> AsyncIterator[frozenset[str] | set[str] | None]:
    """The assets a scoped caller sees (``api.common.scoping``), kept current while the
    block runs; None for a token without scopes (no query, no listener)."""
    principal, scopes = info.context.caller, info.context.services.scopes
    first = await scopes.visible(principal)
    if first is None:
        yield None
        return
    assets = set(first)

    async def refresh() -> None:
        fresh = await scopes.visible(principal)
        assets.clear()  # in place: the subscription's filter holds this set
        assets.update(fresh or ())

    async with _following_registry(info, frozenset({RegistryKind.ASSETS}), refresh):
        yield assets


async def _sensors_seen(info: Info, ids: list[str]) -> None:
    """NOT_FOUND, as for an unknown sensor, for a sensor a scoped caller does not see."""
    if not info.context.caller.scopes:
        return
    found = await info.context.repo.devices.sensors(ids)
    for i in ids:
        await see_or_not_found(
            info, found[i].asset_id if i in found else None, f"sensor {i} not found"
        )


async def _actuators_seen(info: Info, ids: list[str]) -> None:
    if not info.context.caller.scopes:
        return
    found = await info.context.repo.devices.actuators(ids)
    for i in ids:
        await see_or_not_found(
            info, found[i].asset_id if i in found else None, f"actuator {i} not found"
        )


def _at_most_max(ids: list[str]) -> list[str]:
    if len(ids) > MAX_SENSORS:
        raise ValidationError(f"at most {MAX_SENSORS} sensors per subscription")
    return ids


async def _sensors_of(info: Info, asset_id: str) -> list[str]:
    return _at_most_max([s.id for s in await info.context.repo.devices.sensors_under(asset_id)])


async def _live_stream(
    info: Info,
    sensor_ids: list[strawberry.ID] | None,
    asset_id: strawberry.ID | None,
    throttle_ms: int | None,
    deadband: float | None,
    buffer: int | None,
) -> AsyncIterator[tuple[ReadingBatch, LiveMessage]]:
    """The live readings of ``liveReadings`` and ``liveReadingBatches``: the checked
    arguments, the bus subscription following the registry, and the caller's scope;
    each message with the readings the caller may see."""
    if (sensor_ids is None) == (asset_id is None):
        raise ValidationError("give either sensorIds or assetId")
    if throttle_ms is not None and not 1 <= throttle_ms <= 3_600_000:
        raise ValidationError("throttleMs must be between 1 and 3600000")
    if deadband is not None and not (math.isfinite(deadband) and deadband >= 0):
        raise ValidationError("deadband must be a finite number >= 0")
    ids: Sequence[str]
    if asset_id is not None:
        await info.context.repo.assets.get(str(asset_id))
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        ids = await _sensors_of(info, str(asset_id))
    else:
        ids = _at_most_max([str(i) for i in sensor_ids or []])
        await _sensors_seen(info, list(dict.fromkeys(ids)))
    bus = info.context.services.ingest.bus
    async with contextlib.AsyncExitStack() as stack:
        seen_now = await stack.enter_async_context(visible_scope(info))
        sub = stack.enter_context(bus.subscribe(ids, maxsize=_check_queue(buffer)))
        if asset_id is not None:

            async def refresh(asset: str = str(asset_id)) -> None:
                bus.retarget(sub, await _sensors_of(info, asset))

            kinds = frozenset({RegistryKind.ASSETS, RegistryKind.SENSORS})
            await stack.enter_async_context(_following_registry(info, kinds, refresh))
        async for m in live_messages(
            sub,
            throttle_s=None if throttle_ms is None else throttle_ms / 1000,
            deadband=deadband,
        ):
            yield _in_scope(m.batch, seen_now), m


@strawberry.type
class SubscriptionRoot:
    @strawberry.subscription(
        extensions=needs("viewer"),
        description="Live readings of some sensors, or of an asset and all its descendants.",
    )
    async def live_readings(
        self,
        info: Info,
        sensor_ids: list[strawberry.ID] | None = None,
        asset_id: strawberry.ID | None = None,
        throttle_ms: int | None = None,
        deadband: float | None = None,
        buffer: int | None = None,
    ) -> AsyncGenerator[LiveReadingsNode, None]:
        stream = _live_stream(info, sensor_ids, asset_id, throttle_ms, deadband, buffer)
        async for batch, m in stream:
            yield LiveReadingsNode(
                readings=_reading_nodes(batch),
                missed=m.missed,
                missed_readings=m.missed_readings,
            )

    @strawberry.subscription(
        extensions=needs("viewer"),
        description="liveReadings as columns: the same readings, arguments and scope, "
        "each message a LiveReadingBatch of parallel lists (lighter to send and to read "
        "at high rates).",
    )
    async def live_reading_batches(
        self,
        info: Info,
        sensor_ids: list[strawberry.ID] | None = None,
        asset_id: strawberry.ID | None = None,
        throttle_ms: int | None = None,
        deadband: float | None = None,
        buffer: int | None = None,
    ) -> AsyncGenerator[LiveReadingBatchNode, None]:
        stream = _live_stream(info, sensor_ids, asset_id, throttle_ms, deadband, buffer)
        async for batch, m in stream:
            yield LiveReadingBatchNode.from_message(batch, m)

    @strawberry.subscription(
        extensions=needs("viewer"),
        description="Events devices publish on assets/{asset}/events/{kind}, for an asset "
        "and (by default) its descendants.",
    )
    async def asset_events(
        self,
        info: Info,
        asset_id: strawberry.ID,
        include_descendants: bool = True,
        kinds: list[str] | None = None,
        buffer: int | None = None,
    ) -> AsyncGenerator[AssetEventNode, None]:
        await info.context.repo.assets.get(str(asset_id))
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        wanted = set(kinds) if kinds else None
        missed = 0
        async with contextlib.AsyncExitStack() as stack:
            assets = {str(asset_id)}
            if include_descendants:
                assets = await stack.enter_async_context(_subtree_scope(info, str(asset_id)))

            def accept(e: AssetEvent) -> bool:
                return e.asset_id in assets and (wanted is None or e.kind in wanted)

            sub = stack.enter_context(
                info.context.services.connectors.events.subscribe(accept, _check_queue(buffer))
            )
            async for item in sub:
                if isinstance(item, Missed):
                    missed += item.updates
                    continue
                yield _event_node(item, missed)
                missed = 0

    @strawberry.subscription(
        extensions=needs("viewer"),
        description="Final setpoint commands (applied, rejected, failed) of some actuators, "
        "of the actuators of an asset subtree, or of all actuators.",
    )
    async def setpoint_outcomes(
        self,
        info: Info,
        actuator_ids: list[strawberry.ID] | None = None,
        asset_id: strawberry.ID | None = None,
        buffer: int | None = None,
    ) -> AsyncGenerator[SetpointOutcomeNode, None]:
        actuators = {str(i) for i in actuator_ids} if actuator_ids is not None else None
        if actuators:
            await _actuators_seen(info, sorted(actuators))
        if asset_id is not None:
            await info.context.repo.assets.get(str(asset_id))
            await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        missed = 0
        async with contextlib.AsyncExitStack() as stack:
            assets: set[str] | None = None
            if asset_id is not None:
                assets = await stack.enter_async_context(_subtree_scope(info, str(asset_id)))
            seen_now = await stack.enter_async_context(visible_scope(info))

            def accept(c: SetpointCommand) -> bool:
                return (
                    (actuators is None or c.actuator_id in actuators)
                    and (assets is None or c.asset_id in assets)
                    and (seen_now is None or c.asset_id in seen_now)
                )

            outcomes = info.context.services.control.outcomes
            sub = stack.enter_context(outcomes.subscribe(accept, _check_queue(buffer)))
            async for item in sub:
                if isinstance(item, Missed):
                    missed += item.updates
                    continue
                yield SetpointOutcomeNode(
                    command=SetpointCommandNode.from_domain(item), missed=missed
                )
                missed = 0
