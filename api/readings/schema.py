"""The readings path in GraphQL: latest values, history, aligned series, summaries,
and the ``ingestReadings`` mutation.

Field resolvers here are attached to ``Sensor`` and ``Asset`` in ``api/assets/types.py``
(``Sensor.latest``, ``Sensor.readings``, ``Asset.summary``); every one goes through a
per-request DataLoader (``api/readings_loaders.py``), so N sensors cost one store call
per distinct window. Downsampling happens in the store; Python only reshapes columns.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Annotated

import numpy as np
import strawberry

from api.common.scoping import plant_wide_read, see_or_not_found, seen
from api.permissions import needs, reads
from api.readings.loaders import history_loader, latest_loader, summary_loader
from api.readings.types import (
    AggregateEnum,
    AlignedSeries,
    AlignedValues,
    FillEnum,
    Info,
    IngestResultNode,
    LatestValueNode,
    ReadingInput,
    SensorSummaryNode,
    SeriesNode,
    nullable_floats,
    utc_times,
)
from api.readings.window import MAX_POINTS, MAX_SERIES, Window, check_points, make_window
from graph.errors import ValidationError
from graph.model import Sensor
from graph.timeutil import utcnow
from ingest.reading import Quality, RawReading
from ingest.store import Aggregate, Fill, Series, align

if TYPE_CHECKING:
    from api.assets.types import AssetNode, SensorNode

__all__ = [
    "MAX_INGEST_ITEMS",
    "ReadingsMutation",
    "ReadingsQuery",
    "asset_summary",
    "sensor_latest",
    "sensor_readings",
]

MAX_INGEST_ITEMS = 10_000  # per ingestReadings call; larger batches go to POST /ingest

From = Annotated[
    datetime | None,
    strawberry.argument(name="from", description="Window start, inclusive (default: to - 1h)."),
]
To = Annotated[
    datetime | None, strawberry.argument(description="Window end, exclusive (default: now).")
]
Bucket = Annotated[
    str | None,
    strawberry.argument(
        description="Downsampling bucket as a duration: '500ms', '15s', '1m', '1h', '1d'. "
        f"Without one, raw points (at most {MAX_POINTS} per series)."
    ),
]
IncludeBad = Annotated[
    bool, strawberry.argument(description="Include readings of quality bad (out of range).")
]


def _window(
    start: datetime | None,
    end: datetime | None,
    bucket: str | None,
    aggregate: AggregateEnum | None,
    fill: FillEnum | None,
    include_bad: bool,
) -> Window:
    return make_window(
        start,
        end,
        bucket,
        Aggregate(aggregate.value) if aggregate is not None else Aggregate.AVG,
        Fill(fill.value) if fill is not None else Fill.NONE,
        include_bad,
    )


def _series(sensor: Sensor, window: Window, series: Series) -> SeriesNode:
    if window.bucket is None:
        check_points(len(series), window, f"sensor {sensor.id}")
    return SeriesNode.from_store(
        series,
        sensor.unit,
        window.aggregate if window.bucket is not None else None,
        window.bucket.total_seconds() if window.bucket is not None else None,
    )


def sensor_latest(root: SensorNode, info: Info) -> LatestValueNode | None:
    """Sensor.latest: null until the sensor's first reading.

    Answered at once from the latest cache when it holds the sensor (no loader, no
    await: the common case, a field per sensor of a tree); otherwise an awaitable that
    asks the store, batched per request, which graphql-core awaits."""
    cached = info.context.services.ingest.latest.get(root.domain.id)
    if cached is not None:
        return LatestValueNode.from_store(cached)
    return _stored_latest(root.domain.id, info)  # type: ignore[return-value]


async def _stored_latest(sensor_id: str, info: Info) -> LatestValueNode | None:
    found = await latest_loader(info.context).load(sensor_id)
    return LatestValueNode.from_store(found) if found is not None else None


async def sensor_readings(
    root: SensorNode,
    info: Info,
    from_: From = None,
    to: To = None,
    bucket: Bucket = None,
    aggregate: AggregateEnum = AggregateEnum.AVG,  # type: ignore[attr-defined]  # members made at run time
    fill: FillEnum = FillEnum.NONE,  # type: ignore[attr-defined]  # members made at run time
    include_bad: IncludeBad = False,
) -> SeriesNode:
    """Sensor.readings: raw points or buckets aggregated in the store."""
    window = _window(from_, to, bucket, aggregate, fill, include_bad)
    sensor = root.domain
    window.check_raw(sensor.sampling_rate_seconds, f"sensor {sensor.id}")
    series = await history_loader(info.context).load((sensor.id, window))
    return _series(sensor, window, series)


async def asset_summary(
    root: AssetNode,
    info: Info,
    from_: From = None,
    to: To = None,
    include_bad: IncludeBad = False,
) -> list[SensorSummaryNode]:
    """Asset.summary: count/min/max/avg/last of each of the asset's sensors."""
    window = make_window(from_, to, None, include_bad=include_bad)
    pairs = await summary_loader(info.context).load(
        (root.domain.id, window.start, window.end, window.include_bad)
    )
    return [SensorSummaryNode.from_store(summary, sensor.unit) for sensor, summary in pairs]


@strawberry.type(description="A reading refused by validation or a connector, kept for inspection.")
class RejectedReading:
    received_at: datetime
    sensor_id: str
    asset_id: str
    raw: str
    reason: str


MAX_REJECTED = 1_000


async def _sensor_seen(info: Info, sensor_id: str) -> bool:
    if not info.context.caller.scopes:
        return True
    found = await info.context.repo.devices.sensors([sensor_id])
    return sensor_id in found and await seen(info, found[sensor_id].asset_id)


@strawberry.type
class ReadingsQuery:
    @strawberry.field(
        extensions=reads(),
        description="Dead letters: readings that were refused (malformed, unknown sensor, "
        "wrong unit, non-finite, from the future ...), newest first, with the raw payload "
        "and the reason.",
    )
    async def rejected_readings(
        self,
        info: Info,
        sensor_id: strawberry.ID | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[RejectedReading]:
        if not 1 <= limit <= MAX_REJECTED:
            raise ValidationError(f"limit must be between 1 and {MAX_REJECTED}")
        if sensor_id is None:
            plant_wide_read(info, "the dead letters of every sensor (give sensorId)")
        elif not await _sensor_seen(info, str(sensor_id)):
            return []  # as for an unknown sensor
        rows = await info.context.services.readings.rejected(
            limit=limit, sensor_id=str(sensor_id) if sensor_id else None, since=since
        )
        return [
            RejectedReading(
                received_at=r.received_at,
                sensor_id=r.sensor_id,
                asset_id=r.asset_id,
                raw=r.raw,
                reason=r.reason,
            )
            for r in rows
        ]

    @strawberry.field(
        extensions=reads(),
        description="Several sensors on one time axis (the union of their timestamps or "
        "buckets), for charts. At most 100 sensors.",
    )
    async def readings(
        self,
        info: Info,
        sensor_ids: list[strawberry.ID],
        from_: From = None,
        to: To = None,
        bucket: Bucket = None,
        aggregate: AggregateEnum = AggregateEnum.AVG,  # type: ignore[attr-defined]  # members made at run time
        fill: FillEnum = FillEnum.NONE,  # type: ignore[attr-defined]  # members made at run time
        include_bad: IncludeBad = False,
    ) -> AlignedSeries:
        ids = list(dict.fromkeys(str(i) for i in sensor_ids))
        if not ids:
            raise ValidationError("sensorIds is empty")
        if len(ids) > MAX_SERIES:
            raise ValidationError(f"at most {MAX_SERIES} sensors on one axis, got {len(ids)}")
        window = _window(from_, to, bucket, aggregate, fill, include_bad)
        sensors: list[Sensor] = await info.context.loaders.sensor.load_many(ids)
        for s in sensors:
            await see_or_not_found(info, s.asset_id, f"sensor {s.id} not found")
        for s in sensors:
            window.check_raw(s.sampling_rate_seconds, f"sensor {s.id}")
        loaded = await history_loader(info.context).load_many([(sid, window) for sid in ids])
        for s, series in zip(sensors, loaded, strict=True):
            _series(s, window, series)  # per-series point limit
        times = [s.times for s in loaded]
        axis = np.unique(np.concatenate(times)) if times else np.empty(0, np.int64)
        check_points(len(axis), window, "the shared time axis")
        matrix = align(dict(zip(ids, loaded, strict=True)), ids, axis)
        return AlignedSeries(
            timestamps=utc_times(axis),
            aggregate=AggregateEnum(window.aggregate.value) if window.bucket else None,
            bucket_seconds=window.bucket.total_seconds() if window.bucket else None,
            series=[
                AlignedValues(
                    sensor_id=strawberry.ID(s.id), unit=s.unit, values=nullable_floats(row)
                )
                for s, row in zip(sensors, matrix, strict=True)
            ],
        )


def _raw(i: int, r: ReadingInput, now: datetime) -> RawReading:
    if r.timestamp is not None and r.timestamp.tzinfo is None:
        raise ValidationError(
            "timestamp needs a UTC offset (e.g. 'Z')", path=f"readings[{i}].timestamp"
        )
    metadata: object = r.metadata if r.metadata is not None else {}
    if not isinstance(metadata, dict):
        raise ValidationError("metadata must be an object", path=f"readings[{i}].metadata")
    return RawReading(
        sensor_id=str(r.sensor_id),
        value=r.value,
        timestamp=r.timestamp,
        asset_id=str(r.asset_id) if r.asset_id is not None else None,
        unit=r.unit,
        quality=Quality(r.quality.value) if r.quality is not None else None,
        metadata=metadata,
        source="graphql",
        received_at=now,
    )


@strawberry.type
class ReadingsMutation:
    @strawberry.mutation(
        extensions=needs("ingest"),
        description="Push readings (role ingest). Each is checked against its sensor; "
        "rejected ones are counted, explained and kept in rejected_readings. "
        f"At most {MAX_INGEST_ITEMS} per call (POST /ingest takes more).",
    )
    async def ingest_readings(self, info: Info, readings: list[ReadingInput]) -> IngestResultNode:
        if len(readings) > MAX_INGEST_ITEMS:
            raise ValidationError(
                f"at most {MAX_INGEST_ITEMS} readings per call, got {len(readings)}: "
                "use POST /ingest for larger batches"
            )
        now = utcnow()
        raws = [_raw(i, r, now) for i, r in enumerate(readings)]
        who, scopes = info.context.caller, info.context.services.scopes
        outside = partial(scopes.outside, who) if who.scopes else None
        result = await info.context.services.ingest.ingest(raws, now=now, outside=outside)
        return IngestResultNode.from_pipeline(result)
