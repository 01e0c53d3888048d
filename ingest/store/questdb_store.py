"""The production readings store: QuestDB (8.x and later).

Writes go through the ``questdb`` client over ILP/HTTP with auto-flush off: one
explicit flush per batch, so a batch is one HTTP request and one WAL transaction.
Reads and DDL go over the PostgreSQL wire protocol (psycopg 3). WAL tables apply
writes asynchronously: ``sync()`` waits until every table's writer has caught up
with its sequencer (read-your-writes for tests and the latest-value warm-up).

Each SQL statement sent is appended to ``sql_log`` when given (JSON string per line),
so the test session can lint them with QuestDB's own parser.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self, TypedDict
from urllib.parse import urlparse

import numpy as np
import psycopg
from questdb import Sender, TimestampMicros

from graph.errors import Unavailable, ValidationError
from graph.timeutil import from_us, to_us
from ingest.reading import Quality
from ingest.store import questdb_sql as sql
from ingest.store.batch import ReadingBatch
from ingest.store.port import (
    Aggregate,
    EventRow,
    Fill,
    LatestValue,
    RejectedRow,
    Series,
    StoreLifecycle,
    Summary,
    bucket_grid,
    check_window,
)
from ingest.store.shape import fill_grid, split_series

__all__ = ["QuestDBStore"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# QuestDBErrorCode names that blame the data, not the connection (names, not members:
# some exist only in newer clients).
_REFUSALS = frozenset(
    {
        "InvalidUtf8",
        "InvalidName",
        "InvalidTimestamp",
        "ArrayError",
        "DecimalError",
        "BadDataFrame",
        "BatchTooLarge",
        "ServerParseError",
        "ServerSchemaMismatch",
    }
)


class _PgParams(TypedDict):
    host: str
    port: int
    user: str
    password: str
    dbname: str


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
        self._host = parsed.hostname or "127.0.0.1"
        self._ilp_conf = f"http::addr={self._host}:{parsed.port or 9000};auto_flush=off;"
        self._pg = _PgParams(
            host=self._host,
            port=pg_port,
            user=pg_user,
            password=pg_password,
            dbname=pg_database,
        )
        self._p = table_prefix
        self._sql_log = sql_log
        self._log_lock = threading.Lock()
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._send_lock = threading.Lock()

    async def open(self) -> Self:
        for statement in sql.SCHEMA:
            await self._execute(statement.format(p=self._p), ())
        return self

    async def aclose(self) -> None:
        async with self._lock:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                await conn.close()

    # -- SQL over PG wire ----------------------------------------------------------------

    def _log(self, query: str) -> None:
        if self._sql_log is None:
            return
        with self._log_lock, self._sql_log.open("a", encoding="utf-8") as out:
            out.write(json.dumps(query) + "\n")

    async def _execute(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        self._log(query)
        async with self._lock:
            try:
                if self._conn is None or self._conn.closed:
                    self._conn = await psycopg.AsyncConnection.connect(
                        **self._pg, autocommit=True, prepare_threshold=None
                    )
                async with self._conn.cursor() as cur:
                    await cur.execute(query, params)
                    return await cur.fetchall() if cur.description else []
            except psycopg.OperationalError as exc:
                self._conn = None
                raise Unavailable(f"QuestDB at {self._host} is unreachable: {exc}") from exc

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
            rows.extend(await self._execute(self._in(template, len(chunk), **fmt), [*chunk, *tail]))
        return rows

    async def ping(self) -> None:
        await self._execute(sql.PING, ())

    async def sync(self, wait_s: float = 30.0) -> None:
        """Wait until QuestDB has applied every WAL transaction of our tables."""
        names = {f"{self._p}{t}" for t in ("readings", "rejected_readings", "events")}
        deadline = asyncio.get_running_loop().time() + wait_s
        delay = 0.01
        while True:
            rows = await self._execute(sql.WAL_STATUS, ())
            lagging = [r[0] for r in rows if r[0] in names and (r[1] < r[2] or r[3])]
            if not lagging:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise Unavailable(f"QuestDB has not applied WAL of {lagging} in {wait_s}s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    # -- writes (ILP over HTTP) ------------------------------------------------------------

    def _send(self, fill: Any) -> None:
        """Run ``fill`` on a sender and flush. The client's errors about the data itself
        (a bad string, name or timestamp; a row the server cannot parse or fit in the
        table) become ``ValidationError``: the batch is refused and will be refused
        again. Any other client error (connection, timeout, server busy) is
        ``Unavailable``: worth retrying."""
        try:
            with self._send_lock, Sender.from_conf(self._ilp_conf) as sender:
                fill(sender)
                sender.flush()
        except Exception as exc:  # the client raises its own QuestDBError tree
            if not exc.__class__.__module__.startswith("questdb"):
                raise
            code = getattr(getattr(exc, "code", None), "name", None)
            if code in _REFUSALS:
                raise ValidationError(f"QuestDB refused the rows ({code}): {exc}") from exc
            raise Unavailable(f"QuestDB ILP write failed: {exc}") from exc

    async def write(self, batch: ReadingBatch) -> int:
        batch = batch.dedup()
        if not len(batch):
            return 0
        table = f"{self._p}readings"
        ts, vals = batch.ts.tolist(), batch.value.tolist()
        sids, aids, quals = batch.sensor_id.tolist(), batch.asset_id.tolist(), batch.quality
        finite = np.isfinite(batch.value).tolist()

        def fill(sender: Any) -> None:
            for i in range(len(ts)):  # the ILP client encodes row by row into one buffer
                sender.row(
                    table,
                    symbols={"sensor_id": sids[i], "asset_id": aids[i], "quality": quals[i]},
                    columns={"value": vals[i]} if finite[i] else {},
                    at=TimestampMicros(ts[i]),
                )

        await asyncio.to_thread(self._send, fill)
        return len(ts)

    async def write_rejected(self, rows: Sequence[RejectedRow]) -> int:
        table = f"{self._p}rejected_readings"

        def fill(sender: Any) -> None:
            for r in rows:
                sender.row(
                    table,
                    symbols={"sensor_id": r.sensor_id, "asset_id": r.asset_id},
                    columns={"id": r.id, "raw": r.raw, "reason": r.reason},
                    at=TimestampMicros(to_us(r.received_at)),
                )

        if rows:
            await asyncio.to_thread(self._send, fill)
        return len(rows)

    async def write_events(self, rows: Sequence[EventRow]) -> int:
        table = f"{self._p}events"

        def fill(sender: Any) -> None:
            for r in rows:
                sender.row(
                    table,
                    symbols={"asset_id": r.asset_id, "kind": r.kind},
                    columns={"payload": r.payload},
                    at=TimestampMicros(to_us(r.ts)),
                )

        if rows:
            await asyncio.to_thread(self._send, fill)
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
        tail = [to_us(start), to_us(end), include_bad]
        if bucket is None:
            rows = await self._per_chunk(sql.RAW, ids, tail)
            sid, t, v, q = _columns(rows, 4)
            return split_series(
                ids, {"sensor_id": sid, "t": t, "v": v, "quality": q}, with_quality=True
            )
        bucket_us = bucket // timedelta(microseconds=1)
        rows = await self._per_chunk(
            sql.BUCKETED,
            ids,
            tail,
            agg=sql.AGGREGATES[Aggregate(aggregate)],
            sample=sql.sample_by(bucket_us),
        )
        t_dt, sid, v = _columns(rows, 3)
        t = np.array([to_us(x) for x in t_dt], dtype=np.int64)
        out = split_series(ids, {"sensor_id": sid, "t": t, "v": v}, with_quality=False)
        grid = bucket_grid(to_us(start), to_us(end), bucket_us)
        return {k: fill_grid(s, grid, Fill(fill).value) for k, s in out.items()}

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
        rows = await self._per_chunk(sql.SUMMARY, ids, [to_us(start), to_us(end), include_bad])
        found = {
            sid: Summary(sid, n, lo, hi, mean, last, None if t is None else from_us(t))
            for sid, n, lo, hi, mean, last, t in rows
        }
        return {sid: found.get(sid, Summary(sid, 0, None, None, None, None, None)) for sid in ids}

    async def rejected(
        self, limit: int = 100, sensor_id: str | None = None, since: datetime | None = None
    ) -> list[RejectedRow]:
        params = [sensor_id is None, sensor_id, to_us(since or _EPOCH), max(0, int(limit))]
        rows = await self._execute(sql.REJECTED.format(p=self._p), params)
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
