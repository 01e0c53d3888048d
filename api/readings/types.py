"""GraphQL types of the readings path, built from the readings store's values.

Series are columnar (``timestamps`` and ``values`` side by side: what chart libraries
take) and also offer ``points`` (one object per reading) for callers who prefer rows.
Bucketed points carry the quality ``aggregate`` (``missing`` for an empty bucket);
raw points carry the stored quality.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import numpy as np
import strawberry

from api.common.types import JSON
from api.context import Context
from graph.errors import NotFound
from ingest.pipeline import IngestResult
from ingest.reading import Quality
from ingest.store import Aggregate, Fill, LatestValue, Series, Summary

if TYPE_CHECKING:
    from api.assets.types import SensorNode

__all__ = [
    "AggregateEnum",
    "AlignedSeries",
    "AlignedValues",
    "FillEnum",
    "IngestErrorNode",
    "IngestResultNode",
    "LatestValueNode",
    "QualityEnum",
    "Reading",
    "ReadingInput",
    "SensorSummaryNode",
    "SeriesNode",
    "nullable_floats",
    "utc_times",
]

Info = strawberry.Info[Context, None]
_LazySensor = Annotated["SensorNode", strawberry.lazy("api.assets.types")]


def _mirror(name: str, source: type[Enum], description: str) -> type[Enum]:
    mirrored = Enum(name, {m.name: m.value for m in source})  # type: ignore[misc]
    return strawberry.enum(mirrored, description=description)


if TYPE_CHECKING:  # mypy cannot see the members of a class made at run time: plain Enums
    AggregateEnum = Enum
    FillEnum = Enum
    QualityEnum = Enum
else:
    AggregateEnum = _mirror("Aggregate", Aggregate, "How the readings of a bucket are combined.")
    FillEnum = _mirror(
        "Fill",
        Fill,
        "Empty buckets: NONE leaves them out, NULL lists them as null, PREVIOUS carries the "
        "last value forward, LINEAR interpolates between neighbours.",
    )
    QualityEnum = _mirror("Quality", Quality, "Data quality of a reading.")


def utc_times(us: np.ndarray) -> list[datetime]:
    """int64 epoch microseconds as timezone-aware datetimes (C-level conversion)."""
    naive = np.asarray(us, dtype=np.int64).astype("datetime64[us]").astype(object)
    return [t.replace(tzinfo=UTC) for t in naive]


def nullable_floats(values: np.ndarray) -> list[float | None]:
    """float64 values as a list with NaN as None."""
    v = np.asarray(values, dtype=np.float64)
    out = v.astype(object)
    out[np.isnan(v)] = None
    return out.tolist()


@strawberry.type(description="One reading, or one bucket of a downsampled series.")
class Reading:
    timestamp: datetime
    value: float | None
    quality: str


@strawberry.type(name="LatestValue", description="The newest reading of a sensor.")
class LatestValueNode:
    sensor_id: strawberry.ID
    asset_id: strawberry.ID
    timestamp: datetime
    value: float | None
    quality: str

    @classmethod
    def from_store(cls, v: LatestValue) -> LatestValueNode:
        return cls(
            sensor_id=strawberry.ID(v.sensor_id),
            asset_id=strawberry.ID(v.asset_id),
            timestamp=v.ts,
            value=v.value,
            quality=str(v.quality),
        )

    @strawberry.field
    async def sensor(self, info: Info) -> _LazySensor | None:
        from api.assets.types import SensorNode

        try:
            found = await info.context.loaders.sensor.load(str(self.sensor_id))
        except NotFound:  # deleted since its last reading
            return None
        return SensorNode.from_domain(found)


@strawberry.type(name="Series", description="One sensor's readings in a window.")
class SeriesNode:
    sensor_id: strawberry.ID
    unit: str
    aggregate: AggregateEnum | None = strawberry.field(description="Null for raw points.")
    bucket_seconds: float | None = strawberry.field(description="Null for raw points.")
    timestamps: list[datetime] = strawberry.field(
        description="Reading times, or bucket starts (aligned to epoch multiples)."
    )
    values: list[float | None]
    qualities: list[str] | None = strawberry.field(description="Raw points only.")

    @classmethod
    def from_store(
        cls, s: Series, unit: str, aggregate: Aggregate | None, bucket_seconds: float | None
    ) -> SeriesNode:
        return cls(
            sensor_id=strawberry.ID(s.sensor_id),
            unit=unit,
            aggregate=AggregateEnum(aggregate.value) if aggregate is not None else None,
            bucket_seconds=bucket_seconds,
            timestamps=utc_times(s.times),
            values=nullable_floats(s.values),
            qualities=None if s.quality is None else [str(q) for q in s.quality.tolist()],
        )

    @strawberry.field(description="The same data as rows.")
    def points(self) -> list[Reading]:
        if self.qualities is not None:
            qualities = self.qualities
        else:
            qualities = ["missing" if v is None else "aggregate" for v in self.values]
        return [
            Reading(timestamp=t, value=v, quality=q)
            for t, v, q in zip(self.timestamps, self.values, qualities, strict=True)
        ]


@strawberry.type(description="One sensor's values on the shared time axis (null: no value).")
class AlignedValues:
    sensor_id: strawberry.ID
    unit: str
    values: list[float | None]


@strawberry.type(description="Several sensors on one time axis, ready for a chart.")
class AlignedSeries:
    timestamps: list[datetime]
    aggregate: AggregateEnum | None
    bucket_seconds: float | None
    series: list[AlignedValues]


@strawberry.type(name="SensorSummary", description="Statistics of one sensor over a window.")
class SensorSummaryNode:
    sensor_id: strawberry.ID
    unit: str
    count: int
    min: float | None
    max: float | None
    avg: float | None
    last: float | None
    last_at: datetime | None

    @classmethod
    def from_store(cls, s: Summary, unit: str) -> SensorSummaryNode:
        return cls(
            sensor_id=strawberry.ID(s.sensor_id),
            unit=unit,
            count=s.count,
            min=s.min,
            max=s.max,
            avg=s.avg,
            last=s.last,
            last_at=s.last_ts,
        )


@strawberry.input(description="A reading pushed through the API (checked like any other).")
class ReadingInput:
    sensor_id: strawberry.ID
    value: float | None
    timestamp: datetime | None = strawberry.field(
        default=None, description="Source time; the receive time when absent."
    )
    asset_id: strawberry.ID | None = strawberry.field(
        default=None, description="Checked against the sensor's asset."
    )
    unit: str | None = strawberry.field(default=None, description="Checked against the sensor.")
    quality: QualityEnum | None = None
    metadata: JSON | None = None


@strawberry.type(name="IngestError", description="Why one item of a batch was rejected.")
class IngestErrorNode:
    index: int
    sensor_id: str | None
    reason: str
    code: str | None = strawberry.field(
        default=None,
        description="FORBIDDEN for a sensor outside the token's scope; null for readings "
        "that failed validation.",
    )


@strawberry.type(name="IngestResult")
class IngestResultNode:
    accepted: int
    rejected: int
    errors: list[IngestErrorNode]

    @classmethod
    def from_pipeline(cls, r: IngestResult) -> IngestResultNode:
        return cls(
            accepted=r.accepted,
            rejected=r.rejected,
            errors=[
                IngestErrorNode(index=e.index, sensor_id=e.sensor_id, reason=e.reason, code=e.code)
                for e in r.errors
            ],
        )
