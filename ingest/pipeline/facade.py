"""``IngestPipeline``: raw readings in; validated, stored, cached and published out.

``ingest`` and ``ingest_body`` (durable unless told ``durable=False``) return only
once every reading counted as accepted, and every rejected row, is durable: committed to the store, in the fsynced spill log, or kept as a dead letter
(``BatchWriter.enqueue_durable``). The latest cache and the live bus are updated
before that wait, so live subscribers see a value as early as without durability.
If the writer cannot make them durable it raises ``Unavailable``: nothing is answered
as accepted that a crash could lose. ``durable=False`` returns once queued (a caller
that acknowledges nothing to anyone, or a benchmark of the difference).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from graph.errors import Unavailable
from graph.model import Sensor
from graph.timeutil import utcnow
from ingest.pipeline.bus import LiveBus
from ingest.pipeline.catalog import SensorCatalog
from ingest.pipeline.columns import Columns, validate_columns
from ingest.pipeline.httpparse import parse_body
from ingest.pipeline.latest import LatestCache
from ingest.pipeline.settings import PipelineSettings
from ingest.pipeline.validate import ItemError, Validated, validate
from ingest.pipeline.writer import BatchWriter, WriterStats
from ingest.reading import RawReading
from ingest.store import ReadingBatch, ReadingsStore, RejectedRow, rejected_id

__all__ = ["IngestPipeline", "IngestResult", "ScopeFilter"]

# The asset ids, among those given, whose readings the caller may not push.
ScopeFilter = Callable[[Collection[str]], Awaitable[set[str]]]

_US = timedelta(microseconds=1)
_WARM_RETRY_S = 5.0

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IngestResult:
    accepted: int
    rejected: int
    errors: list[ItemError] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The POST /ingest answer: {"accepted": n, "rejected": m, "errors": [...]}."""
        return {
            "accepted": self.accepted,
            "rejected": self.rejected,
            "errors": [e.as_dict() for e in self.errors],
        }


def _out_of_scope(
    at: int, sensor_id: str, asset_id: str, raw: str, now: datetime
) -> tuple[ItemError, RejectedRow]:
    """The answer's error (FORBIDDEN) and the dead letter of a reading at body position
    ``at`` whose sensor is outside the caller's scope."""
    reason = f"sensor {sensor_id} is on asset {asset_id}, outside this token's scope"
    row = RejectedRow(
        rejected_id("scope", sensor_id, raw, reason, now.isoformat(), at),
        now,
        sensor_id,
        asset_id,
        raw,
        reason,
    )
    return ItemError(at, sensor_id, reason, "FORBIDDEN"), row


def _all(waits: list[asyncio.Future[None]]) -> asyncio.Future[None]:
    """One future for several: resolved once all are, failed with the first failure."""
    if len(waits) == 1:
        return waits[0]
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    left = len(waits)

    def one(fut: asyncio.Future[None]) -> None:
        nonlocal left
        left -= 1
        if done.done():
            return
        if fut.cancelled():
            done.cancel()
        elif (exc := fut.exception()) is not None:
            done.set_exception(exc)
        elif not left:
            done.set_result(None)

    for w in waits:
        w.add_done_callback(one)
    return done


class IngestPipeline:
    def __init__(
        self,
        store: ReadingsStore,
        catalog: SensorCatalog,
        settings: PipelineSettings,
        *,
        bus: LiveBus | None = None,
        latest: LatestCache | None = None,
        writer: BatchWriter | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.settings = settings
        self.bus = bus or LiveBus(settings.bus_maxsize)
        self.latest = latest or LatestCache()
        self.writer = writer or BatchWriter(
            store,
            settings.spill_dir,
            max_batch=settings.max_batch,
            flush_interval=settings.flush_interval,
            max_queue=settings.max_queue,
            commit_delay=settings.commit_delay,
        )
        self._warming: asyncio.Task[None] | None = None

    async def start(self, warm_sensor_ids: Sequence[str] = ()) -> None:
        """Start the writer (replaying leftover spill files) and warm the latest cache.

        A store that cannot be reached does not stop the start: the cache is warmed in
        the background once the store answers (values arriving meanwhile are newer and
        are kept; warming only ever moves a sensor's latest value forward)."""
        await self.writer.start()
        if not warm_sensor_ids:
            return
        try:
            await self.latest.warm(self.store, warm_sensor_ids)
        except Unavailable as e:
            log.warning("latest values not loaded yet (%s); retrying in the background", e)
            self._warming = asyncio.create_task(
                self._warm_later(list(warm_sensor_ids)), name="twinql-latest-warm"
            )

    async def _warm_later(self, sensor_ids: list[str]) -> None:
        while True:
            await asyncio.sleep(_WARM_RETRY_S)
            try:
                n = await self.latest.warm(self.store, sensor_ids)
            except Unavailable as e:
                log.debug("latest values still not loaded: %s", e)
                continue
            log.info("latest values loaded for %d sensors", n)
            return

    async def aclose(self) -> None:
        if self._warming is not None:
            self._warming.cancel()
            await asyncio.gather(self._warming, return_exceptions=True)
        await self.writer.aclose()
        self.bus.close()

    async def __aenter__(self) -> IngestPipeline:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def stats(self) -> WriterStats:
        return self.writer.stats()

    async def ingest(
        self,
        raws: Sequence[RawReading],
        *,
        now: datetime | None = None,
        indices: Sequence[int] | None = None,
        outside: ScopeFilter | None = None,
        durable: bool = True,
    ) -> IngestResult:
        """Validate, queue for the store, update the latest cache, publish. Waits when
        the writer's queue is full (backpressure) and, with ``durable``, until the rows
        are durable (see the module docstring). With ``outside`` (a scoped caller),
        readings of sensors on assets it names are refused one by one (code
        FORBIDDEN) and kept as dead letters."""
        result, done = await self._take(raws, now, indices, outside, durable)
        await done
        return result

    async def ingest_deferred(
        self, raws: Sequence[RawReading], *, now: datetime | None = None
    ) -> tuple[IngestResult, asyncio.Future[None]]:
        """``ingest`` (durable) without its last wait: the readings are validated,
        queued, cached and published when it returns; the future resolves once every
        accepted and rejected row is durable, or fails with ``Unavailable``. A caller
        acknowledges nothing before that future resolved (the MQTT connector's acks)."""
        return await self._take(raws, now, None, None, True)

    async def _take(
        self,
        raws: Sequence[RawReading],
        now: datetime | None,
        indices: Sequence[int] | None,
        outside: ScopeFilter | None,
        durable: bool,
    ) -> tuple[IngestResult, asyncio.Future[None]]:
        now = now or utcnow()
        sensors = await self.catalog.get_many({r.sensor_id for r in raws})
        refused: list[ItemError] = []
        waits: list[asyncio.Future[None]] = []
        if outside is not None:
            raws, indices, refused, rows = await self._in_scope(
                raws, indices, sensors, outside, now
            )
            if rows:
                waits.append(await self._queue(ReadingBatch.empty(), rows, durable))
        future_us, age_us = self._limits()
        checked = validate(
            raws, sensors, now, max_future_us=future_us, max_age_us=age_us, index_offset=indices
        )
        return await self._accept(checked, refused, waits, durable)

    def _limits(self) -> tuple[int, int | None]:
        """Validation's time limits in µs: how far ahead, how far back (None: any)."""
        s = self.settings
        return s.max_future // _US, None if s.max_age is None else s.max_age // _US

    async def _accept(
        self,
        checked: Validated,
        refused: list[ItemError],
        waits: list[asyncio.Future[None]],
        durable: bool,
    ) -> tuple[IngestResult, asyncio.Future[None]]:
        """Queue what validation kept and refused, cache and publish the kept; the answer
        and the future of durability (every wait in ``waits`` too)."""
        waits.append(await self._queue(checked.batch, checked.rejected, durable))
        self.latest.update(checked.batch)
        self.bus.publish(checked.batch)
        if refused:
            errors = sorted([*checked.errors, *refused], key=lambda e: e.index)
        else:
            errors = checked.errors
        return IngestResult(len(checked.batch), len(errors), errors), _all(waits)

    async def ingest_columns(
        self,
        cols: Columns,
        *,
        now: datetime | None = None,
        outside: ScopeFilter | None = None,
        durable: bool = True,
    ) -> IngestResult:
        """``ingest`` for readings as columns (``ingest.pipeline.columns``): the same
        outcomes, scope refusals included, without an object per reading."""
        now = now or utcnow()
        sensors = await self.catalog.get_many(set(cols.sensor_id))
        refused: list[ItemError] = []
        waits: list[asyncio.Future[None]] = []
        if outside is not None:
            cols, refused, rows = await self._columns_in_scope(cols, sensors, outside, now)
            if rows:
                waits.append(await self._queue(ReadingBatch.empty(), rows, durable))
        future_us, age_us = self._limits()
        checked = validate_columns(cols, sensors, now, max_future_us=future_us, max_age_us=age_us)
        result, done = await self._accept(checked, refused, waits, durable)
        await done
        return result

    async def _columns_in_scope(
        self, cols: Columns, sensors: dict[str, Sensor], outside: ScopeFilter, now: datetime
    ) -> tuple[Columns, list[ItemError], list[RejectedRow]]:
        denied = await outside({s.asset_id for s in sensors.values()})
        if not denied:
            return cols, [], []
        asset = [sensors[sid].asset_id if sid in sensors else None for sid in cols.sensor_id]
        out = np.fromiter((a in denied for a in asset), dtype=bool, count=len(cols))
        refused, rows = [], []
        for i in np.flatnonzero(out).tolist():
            error, row = _out_of_scope(
                int(cols.index[i]), cols.sensor_id[i], asset[i] or "", cols.raw(i), now
            )
            refused.append(error)
            rows.append(row)
        return cols.take(np.flatnonzero(~out)), refused, rows

    async def _in_scope(
        self,
        raws: Sequence[RawReading],
        indices: Sequence[int] | None,
        sensors: dict[str, Sensor],
        outside: ScopeFilter,
        now: datetime,
    ) -> tuple[list[RawReading], list[int], list[ItemError], list[RejectedRow]]:
        denied = await outside({s.asset_id for s in sensors.values()})
        kept: list[RawReading] = []
        kept_at: list[int] = []
        refused: list[ItemError] = []
        rows: list[RejectedRow] = []
        for i, r in enumerate(raws):
            at = indices[i] if indices is not None else i
            sensor = sensors.get(r.sensor_id)
            if sensor is None or sensor.asset_id not in denied:
                kept.append(r)
                kept_at.append(at)
                continue
            error, row = _out_of_scope(at, r.sensor_id, sensor.asset_id, r.raw or "", now)
            refused.append(error)
            rows.append(row)
        return kept, kept_at, refused, rows

    async def _queue(
        self, batch: ReadingBatch, rejected: Sequence[RejectedRow], durable: bool
    ) -> asyncio.Future[None]:
        """Hand rows to the writer; the future says when they are durable (at once,
        resolved, when ``durable`` is off)."""
        if durable:
            return await self.writer.enqueue_durable(batch, rejected)
        await self.writer.submit(batch, rejected)
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    async def ingest_body(
        self,
        body: bytes | str,
        content_type: str | None = None,
        *,
        source: str = "http",
        outside: ScopeFilter | None = None,
        durable: bool = True,
    ) -> IngestResult:
        """An HTTP batch body (JSON array or NDJSON): unparseable items are rejected
        and kept in ``rejected_readings`` like readings that fail validation. Durable
        by default: the answer's ``accepted`` readings survive a crash."""
        now = utcnow()
        parsed = parse_body(
            body,
            content_type,
            received_at=now,
            source=source,
            max_items=self.settings.max_body_items,
        )
        unparsed: asyncio.Future[None] | None = None
        if parsed.errors:
            rows = [
                RejectedRow(
                    rejected_id("body", raw, e.reason, now.isoformat(), e.index),
                    now,
                    e.sensor_id or "",
                    "",
                    raw,
                    e.reason,
                )
                for e, raw in zip(parsed.errors, parsed.error_raw, strict=True)
            ]
            unparsed = await self._queue(ReadingBatch.empty(), rows, durable)
        if parsed.columns is not None:
            result = await self.ingest_columns(
                parsed.columns, now=now, outside=outside, durable=durable
            )
        else:
            result = await self.ingest(
                parsed.readings, now=now, indices=parsed.indices, outside=outside, durable=durable
            )
        if unparsed is not None:
            await unparsed
        errors = sorted([*parsed.errors, *result.errors], key=lambda e: e.index)
        return IngestResult(result.accepted, len(errors), errors)
