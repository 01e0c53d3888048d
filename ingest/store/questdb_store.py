"""The production readings store: QuestDB (8.x and later).

Writes go through the ``questdb`` client over ILP/HTTP (``questdb_ilp``: one sender kept
for the store's life, one flush per batch, so a batch is one HTTP request and one WAL
transaction). Reads and DDL go over the PostgreSQL wire protocol (``questdb_pg``: one
kept connection, discarded after any failed statement, a read retried once when a
restart closed it). WAL tables apply writes asynchronously: ``sync()`` waits until
every table's writer has caught up with its sequencer (read-your-writes for tests and
the latest-value warm-up).

A QuestDB that cannot be reached when the store opens (still starting, or down) does not
stop the service: the tables are created by the first statement that finds it answering,
and until then every call raises ``Unavailable``, so the writer spills what it accepted
and replays it later, and reads answer UNAVAILABLE with the reason.

Each SQL statement sent is appended to ``sql_log`` when given (JSON string per line),
so the test session can lint them with QuestDB's own parser.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlparse

import numpy as np

from graph.errors import Unavailable
from graph.timeutil import from_us, to_us
from ingest.reading import Quality
from ingest.store import questdb_sql as sql
from ingest.store.batch import ReadingBatch
from ingest.store.port import (
    Aggregate,
    BucketStats,
    EventRow,
    Fill,
    LatestValue,
    RejectedRow,
    Series,
    Span,
    StoreLifecycle,
    Summary,
    bucket_grid,
    bucket_stats_by_window,
    check_window,
)
from ingest.store.questdb_ilp import IlpWriter, add_events, add_readings, add_rejected
from ingest.store.questdb_pg import PgParams, QuestDBSql
from ingest.store.shape import fill_grid, split_series

__all__ = ["QuestDBStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
log = logging.getLogger(__name__)


class QuestDBStore(StoreLifecycle):
    def __init__(
        self,
        url: str,
        *,
        pg_port: int = 8812,
        pg_user: str = "admin",
        pg_password: str = "quest",
        pg_database: str = "qdb",
        table_prefix: str = "",
        sql_log: Path | None = None,
    ) -> None:
        parsed = urlparse(url)
        host = parsed.hostname or "127.0.0.1"
        self._ilp = IlpWriter(f"http::addr={host}:{parsed.port or 9000};auto_flush=off;")
        self._sql = QuestDBSql(
            PgParams(host, pg_port, pg_user, pg_password, pg_database), sql_log=sql_log
        )
        self._p = table_prefix
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()

    async def open(self) -> Self:
        try:
            await self._schema()
        except Unavailable as exc:
            log.warning("%s; readings are spilled and replayed once it answers", exc)
        return self

    async def _schema(self) -> None:
        """Create the tables once, on the first statement that reaches QuestDB."""
        if self._schema_ready:
            return
        async with self._schema_lock:
            if not self._schema_ready:
                for statement in sql.SCHEMA:
                    await self._sql.execute(statement.format(p=self._p))
                self._schema_ready = True

    async def _read(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        await self._schema()
        return await self._sql.read(query, params)

    async def aclose(self) -> None:
        await self._sql.aclose()
        await asyncio.to_thread(self._ilp.close)

    # -- SQL over PG wire ----------------------------------------------------------------

    def _in(self, template: str, n: int, **fmt: str) -> str:
        return template.format(p=self._p, more=", %s" * (n - 1), **fmt)

    async def _per_chunk(
        self, template: str, ids: list[str], tail: Sequence[Any], **fmt: str
    ) -> list[tuple[Any, ...]]:
        """Rows of ``template`` for every chunk of at most ``sql.MAX_IN`` ids (params:
        the chunk's ids, then ``tail``), in chunk order. Every template keeps a sensor's
        rows together and chunks hold distinct ids, so the concatenation still does."""
        rows: list[tuple[Any, ...]] = []
        for i in range(0, len(ids), sql.MAX_IN):
            chunk = ids[i : i + sql.MAX_IN]
            rows.extend(await self._read(self._in(template, len(chunk), **fmt), [*chunk, *tail]))
        return rows

    async def ping(self) -> None:
        await self._sql.read(sql.PING)  # reachability only: no tables needed

    async def sync(self, wait_s: float = 30.0) -> None:
        """Wait until QuestDB has applied every WAL transaction of our tables."""
        names = {f"{self._p}{t}" for t in ("readings", "rejected_readings", "events")}
        deadline = asyncio.get_running_loop().time() + wait_s
        delay = 0.01
        while True:
            rows = await self._read(sql.WAL_STATUS)
            lagging = [r[0] for r in rows if r[0] in names and (r[1] < r[2] or r[3])]
            if not lagging:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise Unavailable(f"QuestDB has not applied WAL of {lagging} in {wait_s}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    # -- writes (ILP over HTTP) ------------------------------------------------------------

    async def write(self, batch: ReadingBatch) -> int:
        batch = batch.dedup()
        if not len(batch):
            return 0
        await self._schema()
        table = f"{self._p}readings"
        await asyncio.to_thread(self._ilp.send, lambda buf: add_readings(buf, table, batch))
        return len(batch)

    async def write_rejected(self, rows: Sequence[RejectedRow]) -> int:
        if rows:
            await self._schema()
            table = f"{self._p}rejected_readings"
            await asyncio.to_thread(self._ilp.send, lambda buf: add_rejected(buf, table, rows))
        return len(rows)

    async def write_events(self, rows: Sequence[EventRow]) -> int:
        if rows:
            await self._schema()
            table = f"{self._p}events"
            await asyncio.to_thread(self._ilp.send, lambda buf: add_events(buf, table, rows))
        return len(rows)

    # -- reads -----------------------------------------------------------------------------

    async def latest(self, sensor_ids: Sequence[str]) -> dict[str, LatestValue]:
        ids = list(dict.fromkeys(sensor_ids))
        if not ids:
            return {}
        rows = await self._per_chunk(sql.LATEST, ids, ())
        return {
            sid: LatestValue(sid, aid, from_us(t), value, Quality(q))
            for sid, aid, t, value, q in rows
        }

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
        check_window(start, end, bucket)
        ids = list(dict.fromkeys(sensor_ids))
        if not ids:
            return {}
        tail = [to_us(start), to_us(end)]
        quality = "" if include_bad else sql.NOT_BAD
        if bucket is None:
            rows = await self._per_chunk(sql.RAW, ids, tail, quality=quality)
            sid, t, v, q = _columns(rows, 4)
            return split_series(
                ids, {"sensor_id": sid, "t": t, "v": v, "quality": q}, with_quality=True
            )
        bucket_us = bucket // timedelta(microseconds=1)
        rows = await self._per_chunk(
            sql.BUCKETED,
            ids,
            tail,
            quality=quality,
            agg=sql.AGGREGATES[Aggregate(aggregate)],
            sample=sql.sample_by(bucket_us),
        )
        t_dt, sid, v = _columns(rows, 3)
        t = np.array([to_us(x) for x in t_dt], dtype=np.int64)
        out = split_series(ids, {"sensor_id": sid, "t": t, "v": v}, with_quality=False)
        grid = bucket_grid(to_us(start), to_us(end), bucket_us)
        return {k: fill_grid(s, grid, Fill(fill).value) for k, s in out.items()}

    async def bucket_stats(self, spans: Sequence[Span], bucket: timedelta) -> list[BucketStats]:
        """One AVG and one COUNT read per distinct window (``port.bucket_stats_by_window``)."""
        return await bucket_stats_by_window(self, spans, bucket)

    async def summary(
        self,
        sensor_ids: Sequence[str],
        start: datetime,
        end: datetime,
        include_bad: bool = False,
    ) -> dict[str, Summary]:
        check_window(start, end, None)
        ids = list(dict.fromkeys(sensor_ids))
        if not ids:
            return {}
        quality = "" if include_bad else sql.NOT_BAD
        rows = await self._per_chunk(sql.SUMMARY, ids, [to_us(start), to_us(end)], quality=quality)
        found = {
            sid: Summary(sid, n, lo, hi, mean, last, None if t is None else from_us(t))
            for sid, n, lo, hi, mean, last, t in rows
        }
        return {sid: found.get(sid, Summary(sid, 0, None, None, None, None, None)) for sid in ids}

    async def rejected(
        self, limit: int = 100, sensor_id: str | None = None, since: datetime | None = None
    ) -> list[RejectedRow]:
        one = sensor_id is not None
        query = sql.REJECTED.format(p=self._p, sensor=sql.ONE_SENSOR if one else "")
        since_us, limit = to_us(since or _EPOCH), max(0, int(limit))
        rows = await self._read(query, [since_us, sensor_id, limit] if one else [since_us, limit])
        return [RejectedRow(i, from_us(t), s, a, raw, r) for t, i, a, s, raw, r in rows]

    async def events(
        self, asset_ids: Sequence[str], start: datetime, end: datetime, limit: int = 1000
    ) -> list[EventRow]:
        check_window(start, end, None)
        ids = list(dict.fromkeys(asset_ids))
        if not ids:
            return []
        limit = max(0, int(limit))
        rows = await self._per_chunk(sql.EVENTS, ids, [to_us(start), to_us(end), limit])
        if len(ids) > sql.MAX_IN:  # each chunk is ordered and limited: merge them
            rows = sorted(rows, key=lambda r: (r[0], r[1], r[2]))[:limit]
        return [EventRow(from_us(t), a, k, p) for t, a, k, p in rows]


def _columns(rows: list[tuple[Any, ...]], n: int) -> list[np.ndarray]:
    if not rows:
        return [np.empty(0, dtype=object) for _ in range(n)]
    cols = list(zip(*rows, strict=True))
    return [np.array(c, dtype=object) for c in cols]
