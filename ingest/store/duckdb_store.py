"""The embedded readings store: one DuckDB file in the data directory.

DuckDB is synchronous, so every call runs in a worker thread under one lock (one
connection, serialised). Batches go in as Arrow tables, never row by row. Dedup on
(ts, sensor_id) is a delete of the overlap plus an insert, in one transaction.

``latest`` reads ``latest_readings`` (one row per sensor, upserted in the same
transaction as each write, never moved back by an older reading) instead of scanning
``readings``; a file from before that table existed gets it filled once, at open.
Rows written into ``readings`` by anything but ``write`` are not seen by ``latest``.

If the file cannot be opened (another process holds its lock, the disk is gone), the
connection died, or an operation meets an I/O fault (no space left on device, an I/O
error, a read-only file system, a lock, a database DuckDB invalidated after such a
fault), operations raise ``Unavailable``, the connection is dropped and the next
operation reopens the file (DuckDB recovers from its WAL). DuckDB reports a full disk
at COMMIT as a ``TransactionException``; the ROLLBACK that follows then fails too
("no transaction is active") and is noted on the original error, never raised in its
place. Anything else (a constraint, a bad value) is the store refusing the rows.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self, TypeVar

import duckdb
import numpy as np
import pyarrow as pa

from graph.errors import Unavailable
from graph.timeutil import from_us, to_us
from ingest.reading import Quality
from ingest.store import duckdb_sql as sql
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
    check_window,
)
from ingest.store.shape import split_series

__all__ = ["DuckDBStore"]

T = TypeVar("T")

_FILL_SQL = {
    Fill.NONE: sql.BUCKETED,
    Fill.NULL: sql.BUCKETED_FILL_NULL,
    Fill.PREVIOUS: sql.BUCKETED_FILL_PREVIOUS,
    Fill.LINEAR: sql.BUCKETED_FILL_LINEAR,
}
_CONNECTION_ERRORS = (duckdb.ConnectionException, duckdb.IOException, duckdb.FatalException)
# What DuckDB says (in any exception class) when the file system, not the data, failed.
_IO_FAULTS = (
    "no space left on device",
    "disk quota exceeded",
    "input/output error",
    "i/o error",
    "read-only file system",
    "could not set lock",
    "conflicting lock",
    "could not write file",
    "could not read from file",
    "could not fsync",
    "database has been invalidated",
    "database is invalidated",
)


def is_io_fault(exc: BaseException) -> bool:
    """A DuckDB error caused by the storage under it (retry later), not by the data."""
    if isinstance(exc, _CONNECTION_ERRORS):
        return True
    if not isinstance(exc, duckdb.Error):
        return False
    text = str(exc).lower()
    return any(marker in text for marker in _IO_FAULTS)


def _rollback(conn: duckdb.DuckDBPyConnection, exc: BaseException) -> None:
    """Roll back after ``exc``; a failing ROLLBACK (DuckDB already aborted the
    transaction, or the disk is gone) is noted on ``exc`` and never masks it."""
    try:
        conn.execute("ROLLBACK")
    except duckdb.Error as failed:
        exc.add_note(f"the ROLLBACK after it failed too: {failed}")


class DuckDBStore(StoreLifecycle):
    def __init__(
        self,
        path: Path | str,
        *,
        table_prefix: str = "",
        memory_limit: str | None = None,
        threads: int | None = None,
    ) -> None:
        self.path = str(path)
        self._p = table_prefix
        self._config: dict[str, Any] = {}
        if memory_limit:
            self._config["memory_limit"] = memory_limit
        if threads:
            self._config["threads"] = threads
        self._lock = threading.Lock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._closed = False
        # The newest ts (epoch µs) in ``readings``, read from ``latest_readings`` at each
        # connect and moved by every committed write: a batch wholly newer than it
        # overlaps nothing, so its write skips the dedup DELETE (the live case).
        self._newest_us: int | None = None

    # -- lifecycle -------------------------------------------------------------------

    async def open(self) -> Self:
        await self._run(lambda conn: None)
        return self

    async def aclose(self) -> None:
        self._closed = True
        await asyncio.to_thread(self._drop)

    async def disconnect(self) -> None:
        """Drop the connection and release the file; the next operation reconnects."""
        await asyncio.to_thread(self._drop)

    def _drop(self) -> None:
        with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                conn.close()

    def _connect(self) -> duckdb.DuckDBPyConnection:
        if self._closed:
            raise Unavailable("the DuckDB readings store is closed")
        if self._conn is None:
            try:
                conn = duckdb.connect(self.path, config=self._config)
                try:
                    for statement in sql.SCHEMA:
                        conn.execute(statement.format(p=self._p))
                    self._ensure_latest(conn)
                    ((self._newest_us,),) = conn.execute(self._q(sql.NEWEST_TS)).fetchall()
                except BaseException:
                    conn.close()  # release the file lock: the next operation retries
                    raise
            except duckdb.Error as exc:
                if not (is_io_fault(exc) or isinstance(exc, duckdb.InvalidInputException)):
                    raise
                raise Unavailable(f"cannot open the readings store {self.path}: {exc}") from exc
            self._conn = conn
        return self._conn

    def _ensure_latest(self, conn: duckdb.DuckDBPyConnection) -> None:
        """Create ``latest_readings`` and fill it from ``readings`` if the file lacks it."""
        name = f"{self._p}latest_readings"
        ((found,),) = conn.execute(sql.LATEST_EXISTS, {"name": name}).fetchall()
        if found:
            return
        conn.execute("BEGIN TRANSACTION")
        try:
            conn.execute(self._q(sql.CREATE_LATEST))
            conn.execute(self._q(sql.BACKFILL_LATEST))
            conn.execute("COMMIT")
        except BaseException as exc:
            _rollback(conn, exc)
            raise

    def _call(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        with self._lock:
            conn = self._connect()
            try:
                return fn(conn)
            except duckdb.Error as exc:
                if not is_io_fault(exc):
                    raise  # the store refuses this operation: the connection is fine
                self._conn = None
                try:
                    conn.close()
                except duckdb.Error as close_exc:
                    exc.add_note(f"closing the broken connection failed too: {close_exc}")
                raise Unavailable(f"the readings store {self.path} failed: {exc}") from exc

    async def _run(self, fn: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        return await asyncio.to_thread(self._call, fn)

    def _q(self, template: str, **fmt: str) -> str:
        return template.format(p=self._p, **fmt)

    async def sync(self) -> None:
        """DuckDB reads its own writes: nothing to wait for."""

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchall())

    # -- writes ----------------------------------------------------------------------

    async def write(self, batch: ReadingBatch) -> int:
        if not len(batch):
            return 0
        delete, insert = self._q(sql.DELETE_OVERLAP), self._q(sql.INSERT_BATCH)
        upsert = self._q(sql.UPSERT_LATEST)

        def go(conn: duckdb.DuckDBPyConnection) -> int:
            # deduplicated and made Arrow here, in the store's thread: off the event loop
            rows = batch.dedup()
            # The statements read these two by name (DuckDB's replacement scan of the
            # calling frame's Arrow tables): no view to register and drop per batch,
            # which cost a sixth of a 10,000-row write.
            _batch = rows.to_arrow()  # noqa: F841
            _newest = rows.newest().to_arrow()  # noqa: F841
            bounds = {"lo": int(rows.ts.min()), "hi": int(rows.ts.max())}
            newest = self._newest_us
            conn.execute("BEGIN TRANSACTION")
            try:
                if newest is not None and bounds["lo"] <= newest:
                    conn.execute(delete, bounds)
                conn.execute(insert)
                conn.execute(upsert)
                conn.execute("COMMIT")
            except BaseException as exc:
                _rollback(conn, exc)
                raise
            if newest is None or bounds["hi"] > newest:
                self._newest_us = bounds["hi"]
            return len(rows)

        return await self._run(go)

    async def _insert_rows(self, statement: str, table: pa.Table) -> int:
        def go(conn: duckdb.DuckDBPyConnection) -> int:
            conn.register("_rows", table)
            try:
                conn.execute(statement)
            finally:
                conn.unregister("_rows")
            return table.num_rows

        return await self._run(go)

    async def write_rejected(self, rows: Sequence[RejectedRow]) -> int:
        if not rows:
            return 0
        table = pa.table(
            {
                "received_at": pa.array([to_us(r.received_at) for r in rows], pa.timestamp("us")),
                "id": pa.array([r.id for r in rows], pa.int64()),
                "asset_id": [r.asset_id for r in rows],
                "sensor_id": [r.sensor_id for r in rows],
                "raw": [r.raw for r in rows],
                "reason": [r.reason for r in rows],
            }
        )
        return await self._insert_rows(self._q(sql.INSERT_REJECTED), table)

    async def write_events(self, rows: Sequence[EventRow]) -> int:
        if not rows:
            return 0
        table = pa.table(
            {
                "ts": pa.array([to_us(r.ts) for r in rows], pa.timestamp("us")),
                "asset_id": [r.asset_id for r in rows],
                "kind": [r.kind for r in rows],
                "payload": [r.payload for r in rows],
            }
        )
        return await self._insert_rows(self._q(sql.INSERT_EVENTS), table)

    # -- reads -----------------------------------------------------------------------

    async def latest(self, sensor_ids: Sequence[str]) -> dict[str, LatestValue]:
        ids = list(dict.fromkeys(sensor_ids))
        if not ids:
            return {}
        query = self._q(sql.LATEST)
        rows = await self._run(lambda conn: conn.execute(query, {"ids": ids}).fetchall())
        return {
            sid: LatestValue(
                sensor_id=sid, asset_id=asset, ts=from_us(t), value=value, quality=Quality(q)
            )
            for sid, t, asset, value, q in rows
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
        params: dict[str, Any] = {
            "ids": ids,
            "start": to_us(start),
            "end": to_us(end),
            "include_bad": include_bad,
        }
        if bucket is None:
            query = self._q(sql.RAW)
        else:
            params["bucket"] = bucket // timedelta(microseconds=1)
            if Fill(fill) is not Fill.NONE:
                params["gstart"] = params["start"] - params["start"] % params["bucket"]
            query = self._q(_FILL_SQL[Fill(fill)], agg=sql.AGGREGATES[Aggregate(aggregate)])

        def go(conn: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
            return conn.execute(query, params).fetchnumpy()

        cols = await self._run(go)
        return split_series(ids, cols, with_quality=bucket is None)

    async def bucket_stats(self, spans: Sequence[Span], bucket: timedelta) -> list[BucketStats]:
        """Every span in one query: the spans as a table joined to the readings on the
        sensor, each reading kept inside its span's window, grouped by span and bucket."""
        if not spans:
            return []
        for s in spans:
            check_window(s.start, s.end, bucket)
        starts = [to_us(s.start) for s in spans]
        ends = [to_us(s.end) for s in spans]
        params = {
            "k": list(range(len(spans))),
            "ids": [s.sensor_id for s in spans],
            "starts": starts,
            "ends": ends,
            "lo": min(starts),
            "hi": max(ends),
            "bucket": bucket // timedelta(microseconds=1),
        }
        query = self._q(sql.BUCKET_STATS)

        def go(conn: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
            return conn.execute(query, params).fetchnumpy()

        cols = await self._run(go)
        k = np.asarray(cols["k"], dtype=np.int64)
        t = np.asarray(cols["t"], dtype=np.int64)
        v = np.asarray(np.ma.filled(np.ma.asarray(cols["v"], dtype=float), np.nan), dtype=float)
        c = np.asarray(cols["c"], dtype=np.int64)
        bounds = np.searchsorted(k, np.arange(len(spans) + 1))
        return [
            BucketStats(t[a:b], v[a:b], c[a:b])
            for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True)
        ]

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
        params = {"ids": ids, "start": to_us(start), "end": to_us(end), "include_bad": include_bad}
        query = self._q(sql.SUMMARY)
        rows = await self._run(lambda conn: conn.execute(query, params).fetchall())
        found = {
            sid: Summary(sid, n, lo, hi, mean, last, None if t is None else from_us(t))
            for sid, n, lo, hi, mean, last, t in rows
        }
        return {sid: found.get(sid, Summary(sid, 0, None, None, None, None, None)) for sid in ids}

    async def rejected(
        self, limit: int = 100, sensor_id: str | None = None, since: datetime | None = None
    ) -> list[RejectedRow]:
        params = {
            "limit": max(0, int(limit)),
            "sensor_id": sensor_id,
            "since": None if since is None else to_us(since),
        }
        query = self._q(sql.REJECTED)
        rows = await self._run(lambda conn: conn.execute(query, params).fetchall())
        return [
            RejectedRow(id=i, received_at=from_us(t), asset_id=a, sensor_id=s, raw=raw, reason=r)
            for t, i, a, s, raw, r in rows
        ]

    async def events(
        self, asset_ids: Sequence[str], start: datetime, end: datetime, limit: int = 1000
    ) -> list[EventRow]:
        check_window(start, end, None)
        params = {
            "ids": list(asset_ids),
            "start": to_us(start),
            "end": to_us(end),
            "limit": max(0, int(limit)),
        }
        query = self._q(sql.EVENTS)
        rows = await self._run(lambda conn: conn.execute(query, params).fetchall())
        return [EventRow(from_us(t), a, k, p) for t, a, k, p in rows]
