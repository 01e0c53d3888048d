"""Asset events to the readings store's ``events`` table: batched, retried, never lost.

The connector manager hands every MQTT asset event to ``put()``; a background task
stores them in batches. Rows taken from the queue stay in ``inflight`` until the store
took them, so a failing store (retried every second, in order) loses nothing, nor does
shutdown: ``aclose()`` lets the writer store what is queued and in flight (bounded in
time) and keeps what the store will not take as dead letters. Any store error is logged
and counted; none ends the writer. The queue is bounded: a full one makes ``put()`` wait
(counted in ``event_queue_waits``), which holds up the connector that delivered the event;
an MQTT connector then stops reading its socket and the broker keeps the rest. No event
is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from graph.errors import TwinqlError
from ingest.store import EventRow, RejectedRow, rejected_id

__all__ = ["EventCounters", "EventWriter"]

log = logging.getLogger("twinql.ingest.manager")

EventStore = Callable[[Sequence[EventRow]], Awaitable[int]]
RejectSink = Callable[[list[RejectedRow]], Awaitable[None]]


class EventCounters(Protocol):
    events_stored: int
    event_queue_waits: int
    event_store_errors: int
    dead_letters: int


class EventWriter:
    def __init__(
        self,
        store: EventStore,
        reject: RejectSink,
        counters: EventCounters,
        *,
        queue: int,
        batch: int,
        flush_s: float,
        close_timeout_s: float,
        retry_s: float = 1.0,
    ) -> None:
        self._store = store
        self._reject = reject
        self._counters = counters
        self._max = queue
        self._batch = batch
        self._flush_s = flush_s
        self._close_timeout_s = close_timeout_s
        self._retry_s = retry_s
        self._queue: asyncio.Queue[EventRow | None] = asyncio.Queue(queue)  # None: wake up
        self.inflight: list[EventRow] = []  # taken from the queue, not yet stored
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None and not self._closing.is_set():
            self._task = asyncio.create_task(self._run(), name="twinql-events")

    async def put(self, row: EventRow) -> None:
        """Queue one event for the store; waits while the queue is full."""
        if self._closing.is_set():
            raise RuntimeError("the asset event writer is closed")
        if self._queue.full():
            self._counters.event_queue_waits += 1
            waits = self._counters.event_queue_waits
            if waits == 1 or waits % 1000 == 0:  # the first, then every thousandth
                log.warning(
                    "asset event queue full (%d): the connector waits for the store "
                    "(%d waits so far)",
                    self._max,
                    waits,
                )
        await self._queue.put(row)

    async def aclose(self) -> None:
        """Store what is queued and in flight (within ``close_timeout_s``), keep the rest
        as dead letters."""
        task, self._task = self._task, None
        self._closing.set()
        if not self._queue.full():  # wake a writer waiting for the first row; a full
            self._queue.put_nowait(None)  # queue means it is not waiting on get()
        if task is not None:
            try:
                await asyncio.wait_for(task, self._close_timeout_s)
            except TimeoutError:
                log.error("asset events not stored within %gs", self._close_timeout_s)
                await self._keep_unstored(TimeoutError("the event store did not answer"))
                return
            except Exception as exc:  # a bug of the writer: what it held is still here
                log.exception("the asset event writer failed")
                await self._keep_unstored(exc)
                return
        await self._flush(final=True)  # never started, or left-overs

    async def _run(self) -> None:
        while not self._closing.is_set():
            if not self.inflight:
                row = await self._queue.get()
                if row is None:
                    continue
                self.inflight.append(row)
                await self._wait_closing(self._flush_s)  # gather a batch
            if not await self._flush(final=False):
                await self._wait_closing(self._retry_s)  # keep them, retry in order
        await self._flush(final=True)

    async def _wait_closing(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    def _take(self) -> None:
        while len(self.inflight) < self._batch:
            try:
                row = self._queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            if row is not None:
                self.inflight.append(row)

    async def _flush(self, *, final: bool) -> bool:
        """Store the in-flight rows and the queue in batches; False when the store failed
        (``final``: what it refused becomes dead letters)."""
        while True:
            self._take()
            if not self.inflight:
                return True
            rows = list(self.inflight)
            try:
                await self._store(rows)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._counters.event_store_errors += 1
                if isinstance(exc, TwinqlError):
                    log.warning("cannot store %d asset events: %s", len(rows), exc)
                else:
                    log.exception("cannot store %d asset events", len(rows))
                if final:
                    await self._keep_unstored(exc)
                return False
            del self.inflight[: len(rows)]
            self._counters.events_stored += len(rows)

    async def _keep_unstored(self, exc: BaseException) -> None:
        """At shutdown: the events the store did not take go to the dead letters."""
        while True:
            self._take()
            if not self.inflight:
                return
            rows, self.inflight = self.inflight, []
            letters = [
                RejectedRow(
                    # an event is (asset, kind, ts): the store's own key
                    id=rejected_id("event", row.asset_id, row.kind, row.ts.isoformat()),
                    received_at=row.ts,
                    sensor_id="",
                    asset_id=row.asset_id,
                    raw=row.payload,
                    reason=f"asset event {row.kind!r} not stored at shutdown: {exc!r}",
                )
                for row in rows
            ]
            try:
                await self._reject(letters)
            except Exception:
                log.exception("cannot keep %d unstored asset events: %r", len(rows), rows)
                continue
            self._counters.dead_letters += len(letters)
            log.error("kept %d unstored asset events as dead letters", len(letters))
