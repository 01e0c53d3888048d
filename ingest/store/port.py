"""The readings-store port: what ingest writes and what the API reads.

Adapters: ``DuckDBStore`` (embedded default, a file in the data directory) and
``QuestDBStore`` (production: ILP over HTTP for writes, SQL over the PostgreSQL wire
protocol for reads). Both deduplicate readings on (ts, sensor_id), last write wins,
so replays after a fault are idempotent. Connection failures surface as
``graph.errors.Unavailable`` (the batching writer then spills to disk and retries);
bad arguments as ``graph.errors.ValidationError``. Any error other than
``Unavailable`` from a write means the store refuses those rows for good (the writer
moves them to dead letters rather than retrying them).

Times cross the port as int64 epoch microseconds (UTC) in numpy arrays, or as
timezone-aware datetimes in arguments and single values.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

import numpy as np

from graph.errors import ValidationError
from ingest.reading import Quality
from ingest.store.batch import ReadingBatch

__all__ = [
    "Aggregate",
    "BucketStats",
    "EventRow",
    "Fill",
    "LatestValue",
    "ReadingsStore",
    "RejectedRow",
    "Series",
    "StoreSettings",
    "Summary",
    "Span",
    "bucket_grid",
    "bucket_stats_by_window",
    "check_window",
    "rejected_id",
]

MAX_BUCKETS = 1_000_000  # per sensor and query: a guard against 1 µs buckets over a year


class Aggregate(StrEnum):
    AVG = "avg"
    MIN = "min"
    MAX = "max"
    SUM = "sum"
    COUNT = "count"
    FIRST = "first"
    LAST = "last"


class Fill(StrEnum):
    NONE = "none"  # only buckets holding data
    NULL = "null"  # every bucket of the window, NaN where empty
    PREVIOUS = "previous"  # carry the last value forward (NaN before the first)
    LINEAR = "linear"  # interpolate between neighbours (NaN outside them)


@dataclass(frozen=True, slots=True)
class LatestValue:
    sensor_id: str
    asset_id: str
    ts: datetime
    value: float | None
    quality: Quality


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """One sensor's points: ``times`` int64 epoch-µs (bucket starts when bucketed),
    ``values`` float64 (NaN = null); ``quality`` only for raw (unbucketed) reads."""

    sensor_id: str
    times: np.ndarray
    values: np.ndarray
    quality: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.times)


@dataclass(frozen=True, slots=True)
class Span:
    """One sensor over ``[start, end)``: a piece of a many-sensor read."""

    sensor_id: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True, eq=False)
class BucketStats:
    """A span's good readings per bucket: ``times`` the bucket starts (int64 epoch-µs,
    aligned to epoch multiples of the bucket; only buckets holding readings),
    ``means`` their mean (NaN where a missing reading made it null), ``counts`` how
    many. A bucket cut by the span's start or end aggregates only the readings inside."""

    times: np.ndarray
    means: np.ndarray
    counts: np.ndarray


@dataclass(frozen=True, slots=True)
class Summary:
    sensor_id: str
    count: int
    min: float | None
    max: float | None
    avg: float | None
    last: float | None
    last_ts: datetime | None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A reading that failed validation, kept for inspection. ``id`` makes replays
    idempotent (the store deduplicates on it): ``rejected_id`` of what identifies the
    letter, so one kept twice (a redelivered message, a replayed batch) is stored once."""

    id: int
    received_at: datetime
    sensor_id: str
    asset_id: str
    raw: str
    reason: str


def rejected_id(*parts: object) -> int:
    """A dead letter's id (63 bits) from the parts that identify it: where it came from,
    its raw text, the reason, when it was received, its place among identical letters.
    The same letter kept again (an MQTT message delivered again after a lost connection
    carries its first arrival time; a batch replayed from the spill log) gets the same
    id; two letters that differ in any part do not (a 64-bit BLAKE2b digest)."""
    h = hashlib.blake2b(digest_size=8)
    for part in parts:
        data = str(part).encode("utf-8", "surrogatepass")
        h.update(len(data).to_bytes(4, "little"))
        h.update(data)
    return int.from_bytes(h.digest(), "little") >> 1


@dataclass(frozen=True, slots=True)
class EventRow:
    ts: datetime
    asset_id: str
    kind: str
    payload: str = "{}"


class StoreLifecycle:
    """``async with store:`` opens it and closes it: adapters define ``open``/``aclose``."""

    async def open(self) -> Self:
        raise NotImplementedError

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """``backend`` is ``duckdb`` (``path`` to the file) or ``questdb`` (``questdb_url`` is
    the HTTP endpoint for ILP, e.g. ``http://127.0.0.1:9000``; reads go to ``pg_port``
    on the same host)."""

    backend: str = "duckdb"
    path: Path | None = None
    questdb_url: str | None = None
    pg_port: int = 8812
    pg_user: str = "admin"
    pg_password: str = field(default="quest", repr=False)
    pg_database: str = "qdb"
    table_prefix: str = ""
    sql_log: Path | None = None
    memory_limit: str | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.backend not in ("duckdb", "questdb"):
            raise ValidationError(f"readings backend must be duckdb or questdb: {self.backend!r}")
        if self.backend == "questdb" and not self.questdb_url:
            raise ValidationError("the questdb backend needs questdb_url")
        if self.table_prefix and not self.table_prefix.replace("_", "").isalnum():
            raise ValidationError("table_prefix may hold letters, digits and '_' only")


def check_window(start: datetime, end: datetime, bucket: timedelta | None) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValidationError("reading windows need timezone-aware datetimes")
    if end <= start:
        raise ValidationError("the window end must be after its start")
    if bucket is not None:
        if bucket < timedelta(milliseconds=1):
            raise ValidationError("bucket must be at least 1 ms")
        if (end - start) / bucket > MAX_BUCKETS:
            raise ValidationError(f"window/bucket gives more than {MAX_BUCKETS} buckets")


def bucket_grid(start_us: int, end_us: int, bucket_us: int) -> np.ndarray:
    """Bucket starts covering ``[start, end)``, aligned to epoch multiples of the bucket."""
    return np.arange(start_us - start_us % bucket_us, end_us, bucket_us, dtype=np.int64)


@runtime_checkable
class ReadingsStore(Protocol):
    async def write(self, batch: ReadingBatch) -> int:
        """Store a batch (dedup on (ts, sensor_id), last wins); returns rows written."""
        ...

    async def write_rejected(self, rows: Sequence[RejectedRow]) -> int: ...

    async def write_events(self, rows: Sequence[EventRow]) -> int: ...

    async def latest(self, sensor_ids: Sequence[str]) -> dict[str, LatestValue]:
        """The newest reading of each sensor (any quality), in one query."""
        ...

    async def history(
        self,
        sensor_ids: Sequence[str],
        start: datetime,
        end: datetime,
        bucket: timedelta | None = None,
        aggregate: Aggregate = Aggregate.AVG,
        fill: Fill = Fill.NONE,
        include_bad: bool = False,
    ) -> dict[str, Series]:
        """Readings in ``[start, end)``; bucketed and aggregated in the store when
        ``bucket`` is given. Every requested sensor gets a (possibly empty) series."""
        ...

    async def summary(
        self,
        sensor_ids: Sequence[str],
        start: datetime,
        end: datetime,
        include_bad: bool = False,
    ) -> dict[str, Summary]: ...

    async def bucket_stats(self, spans: Sequence[Span], bucket: timedelta) -> list[BucketStats]:
        """Mean and count of the good readings per bucket of each span, in the order
        given, for many sensors and windows at once (a fleet's health reads)."""
        ...

    async def rejected(
        self, limit: int = 100, sensor_id: str | None = None, since: datetime | None = None
    ) -> list[RejectedRow]:
        """Newest first."""
        ...

    async def events(
        self, asset_ids: Sequence[str], start: datetime, end: datetime, limit: int = 1000
    ) -> list[EventRow]: ...

    async def sync(self) -> None:
        """Wait until every acknowledged write is visible to reads (QuestDB applies WAL
        asynchronously; DuckDB is read-your-writes already)."""
        ...

    async def ping(self) -> None:
        """Raise ``Unavailable`` when the store cannot be reached."""
        ...

    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


async def bucket_stats_by_window(
    store: ReadingsStore, spans: Sequence[Span], bucket: timedelta
) -> list[BucketStats]:
    """``bucket_stats`` from ``history``: one AVG and one COUNT read per distinct window
    (an adapter without a many-window query uses it)."""
    groups: dict[tuple[datetime, datetime], list[int]] = {}
    for k, s in enumerate(spans):
        check_window(s.start, s.end, bucket)
        groups.setdefault((s.start, s.end), []).append(k)
    empty = BucketStats(np.empty(0, np.int64), np.empty(0), np.empty(0, np.int64))
    out: list[BucketStats] = [empty] * len(spans)
    for (start, end), ks in groups.items():
        ids = [spans[k].sensor_id for k in ks]
        means = await store.history(ids, start, end, bucket=bucket, aggregate=Aggregate.AVG)
        counts = await store.history(ids, start, end, bucket=bucket, aggregate=Aggregate.COUNT)
        for k, sid in zip(ks, ids, strict=True):
            m, c = means[sid], counts[sid]
            n = np.zeros(len(m.times), dtype=np.int64)
            if len(c.times):
                idx = np.minimum(np.searchsorted(c.times, m.times), len(c.times) - 1)
                hit = c.times[idx] == m.times
                n = np.where(hit, np.nan_to_num(c.values[idx]), 0).astype(np.int64)
            keep = n > 0
            out[k] = BucketStats(m.times[keep], m.values[keep], n[keep])
    return out
