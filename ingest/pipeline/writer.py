"""The batching writer: bounded queue in, batches to the store out, spill when it is down.

``submit`` queues a validated batch (and its rejected rows) and returns; it waits
while ``max_queue`` readings are already queued (backpressure, never unbounded
growth). ``enqueue_durable`` queues the same way but returns a future that resolves
once those rows are durable: committed to the store, appended to the spill log and
fsynced, or kept as dead letters; it fails with ``Unavailable`` when the writer
cannot make them durable (a ``fault``, or closing with them unwritten). A durable
submit does not wait for the flush tick: it asks for a flush at once, and concurrent
callers share one flush (group commit: whatever is queued when the consumer wakes
goes in one batch of at most ``max_batch`` readings). Flushes start at most once per
``commit_delay`` seconds: an idle writer flushes a durable submit at once, a stream of
small durable batches (MQTT messages) shares one store transaction per interval.

One consumer task flushes when ``max_batch`` readings are queued, a flush or a durable
submit asks for it, or ``flush_interval`` seconds have passed. When the store is
unavailable, the batch is appended to the spill log (fsynced) and, from then on,
every batch follows it there until a background replay, retried with exponential
backoff, has written the whole log back in order. Leftover spill files from an
earlier run are replayed at start. ``aclose`` flushes everything (to the store, or to
the spill log if it is down).

Only ``Unavailable`` means "try again later" (the stores raise it for lost
connections and for I/O faults: disk full, I/O errors, read-only file systems,
locks). Any other error of a write means the store refuses that record and always
will: it is not retried (it would stall every later batch behind it) but moved to
dead letters (``ingest.pipeline.deadletter``): its readings become
``rejected_readings`` rows with the store's answer as the reason, or, if those are
refused too, records of the quarantine log. The writer carries on.

When a batch can go neither to the store nor to the spill log (the store is down
and the spill append fails: the disk is full), the batch goes back to the head of
the queue and ``fault`` says why; the task retries with backoff and clears ``fault``
at its first cycle that goes through, so ingest recovers by itself when space
returns. While ``fault`` is set, ``submit``/``enqueue_durable``/``flush`` raise
``Unavailable`` (HTTP answers 503) and waiting durable futures fail, instead of
accepting what nobody can write; what is already queued stays queued (bounded) and
is written on recovery.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from graph.errors import Unavailable
from graph.timeutil import utcnow
from ingest.pipeline.deadletter import refused_reason, refused_rows
from ingest.pipeline.spill import SpillLog, SpillRecord
from ingest.store import ReadingBatch, ReadingsStore, RejectedRow

__all__ = ["BatchWriter", "WriterStats"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WriterStats:
    received: int  # readings submitted
    stored: int  # readings written to the store (directly or by replay)
    rejected: int  # rejected rows written to the store
    spilled: int  # readings appended to the spill log
    replayed: int  # readings written back from the spill log
    queue_depth: int  # readings waiting in memory
    lag_s: float  # age of the oldest reading not yet in the store
    spill_pending: bool
    store_errors: int
    dead_lettered: int = 0  # readings the store refused: now dead letters (rejected_readings)
    quarantined: int = 0  # rows refused even as dead letters: in the quarantine log
    flushes: int = 0  # consumer cycles that took queued rows
    faults: int = 0  # cycles that could write their rows neither to the store nor spill
    fault: str | None = None  # why, while it lasts (disk full...); None when writing


@dataclass(slots=True)
class _Item:
    batch: ReadingBatch
    rejected: list[RejectedRow]
    at: float
    waiters: list[asyncio.Future[None]] = field(default_factory=list)

    @property
    def size(self) -> int:
        return max(len(self.batch) + len(self.rejected), 1)


def _settle(waiters: Sequence[asyncio.Future[None]], error: BaseException | None = None) -> None:
    for fut in waiters:
        if fut.done():  # its caller went away (cancelled)
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)


def _retrieved(fut: asyncio.Future[None]) -> None:
    if not fut.cancelled():
        fut.exception()


class BatchWriter:
    def __init__(
        self,
        store: ReadingsStore,
        spill_dir: Path,
        *,
        max_batch: int = 10_000,
        flush_interval: float = 0.5,
        max_queue: int = 200_000,
        retry_initial: float = 0.05,
        retry_max: float = 2.0,
        commit_delay: float = 0.0,
    ) -> None:
        self._store = store
        self._spill = SpillLog(spill_dir)
        self._quarantine_dir = spill_dir / "quarantine"
        self._quarantine: SpillLog | None = None
        self._max_batch = max_batch
        self._interval = flush_interval
        self._commit_delay = commit_delay
        self._last_flush = -math.inf
        self._max_queue = max_queue
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._backoff = retry_initial
        self._next_retry = 0.0
        self._fault_backoff = retry_initial
        self._queue: deque[_Item] = deque()
        self._depth = 0
        self._inflight = 0
        self._cond = asyncio.Condition()
        self._closing = False
        self._flush_requested = False
        self._task: asyncio.Task[None] | None = None
        self._fault: str | None = None
        self._spill_since: float | None = time.monotonic() if self._spill.pending() else None
        self._counts = dict.fromkeys(
            (
                "received",
                "stored",
                "rejected",
                "spilled",
                "replayed",
                "store_errors",
                "dead_lettered",
                "quarantined",
                "flushes",
                "faults",
            ),
            0,
        )

    # -- public ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="twinql-batch-writer")

    @property
    def fault(self) -> str | None:
        """Why queued rows can be written neither to the store nor to the spill log
        (the disk is full...), or None. Clears by itself once a retry goes through."""
        return self._fault

    def _check_alive(self) -> None:
        if self._fault is not None:
            raise Unavailable(self._fault)

    def _has_room(self, item: _Item) -> bool:
        return (
            self._fault is not None
            or self._depth == 0
            or self._depth + item.size <= self._max_queue
        )

    async def submit(self, batch: ReadingBatch, rejected: Sequence[RejectedRow] = ()) -> None:
        """Queue readings (and rejected rows); waits while the queue is full. Raises
        ``Unavailable`` once the writer is closed or while it has a ``fault``."""
        await self._enqueue(batch, rejected, None)

    async def enqueue_durable(
        self, batch: ReadingBatch, rejected: Sequence[RejectedRow] = ()
    ) -> asyncio.Future[None]:
        """Queue like ``submit`` and ask for a flush now; the future resolves once every
        row is in the store, the fsynced spill log or dead letters, and fails with
        ``Unavailable`` if the writer faults (or closes) before that."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.add_done_callback(_retrieved)  # a caller that gave up logs no "never retrieved"
        await self._enqueue(batch, rejected, done)
        return done

    async def _enqueue(
        self,
        batch: ReadingBatch,
        rejected: Sequence[RejectedRow],
        done: asyncio.Future[None] | None,
    ) -> None:
        if self._closing:
            raise Unavailable("the batch writer is closed")
        self._check_alive()
        items = [
            _Item(batch.take(slice(i, i + self._max_batch)), [], time.monotonic())
            for i in range(0, len(batch), self._max_batch)
        ]
        if rejected:
            items.append(_Item(ReadingBatch.empty(), list(rejected), time.monotonic()))
        if done is not None:
            if not items:
                done.set_result(None)
                return
            items[-1].waiters.append(done)  # the queue is FIFO: the last one is the latest
        for item in items:
            async with self._cond:
                await self._cond.wait_for(partial(self._has_room, item))
                self._check_alive()
                if self._closing:
                    raise Unavailable("the batch writer is closed")
                self._queue.append(item)
                self._depth += item.size
                self._counts["received"] += len(item.batch)
                if done is not None:
                    self._flush_requested = True
                self._cond.notify_all()

    async def flush(self) -> None:
        """Return once everything submitted so far is in the store or the spill log
        (or dead letters); raises ``Unavailable`` while the writer has a fault."""
        async with self._cond:
            self._check_alive()
            self._flush_requested = True
            self._next_retry = 0.0
            self._cond.notify_all()
            await self._cond.wait_for(
                lambda: self._fault is not None or (self._depth == 0 and self._inflight == 0)
            )
            self._check_alive()

    async def aclose(self) -> None:
        """Flush everything, then stop. Spilled data stays on disk for the next start.
        If the task ends with a fault, one last attempt writes what is queued; if that
        fails too, ``Unavailable`` says how many readings were not written."""
        self._closing = True
        async with self._cond:
            self._cond.notify_all()
        if self._task is not None:
            await self._task
            self._task = None
            if self._fault is None and not self._queue:
                return
        try:
            while self._queue:
                await self._cycle(final=True)
            self._fault = None
        except Exception as exc:
            left = sum(len(i.batch) for i in self._queue)
            log.error("batch writer closed with %d readings not written: %s", left, exc)
            error = Unavailable(f"the batch writer could not write {left} queued readings: {exc}")
            for item in self._queue:
                _settle(item.waiters, error)
            raise error from exc

    def stats(self) -> WriterStats:
        now = time.monotonic()
        oldest = [now - self._queue[0].at] if self._queue else []
        if self._spill_since is not None:
            oldest.append(now - self._spill_since)
        return WriterStats(
            **self._counts,
            queue_depth=self._depth,
            lag_s=max(oldest, default=0.0),
            spill_pending=self._spill_since is not None,
            fault=self._fault,
        )

    # -- the consumer ----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                await self._cycle(final=self._closing)
            except Exception as exc:
                await self._on_fault(exc)
                if self._closing:
                    return  # aclose makes one last attempt and says what is left
                await self._pause(self._fault_backoff)
                self._fault_backoff = min(self._fault_backoff * 2, self._retry_max)
                continue
            if self._fault is not None:
                log.warning("the batch writer recovered: %s", self._fault)
                self._fault = None
                self._fault_backoff = self._retry_initial
            if self._closing and not self._queue:
                try:
                    await self._cycle(final=True)
                except Exception as exc:
                    await self._on_fault(exc)
                return

    async def _on_fault(self, exc: Exception) -> None:
        """Rows could be written neither to the store nor to the spill log: they are
        back in the queue; callers waiting for durability are told now."""
        log.error("the batch writer cannot write or spill (retrying): %s", exc, exc_info=exc)
        self._counts["faults"] += 1
        self._fault = f"the batch writer cannot write or spill: {type(exc).__name__}: {exc}"
        error = Unavailable(self._fault)
        async with self._cond:
            for item in self._queue:
                _settle(item.waiters, error)
                item.waiters.clear()
            self._cond.notify_all()  # wake submit/flush: they raise now

    async def _pause(self, seconds: float) -> None:
        async with self._cond:
            try:
                async with asyncio.timeout(seconds):
                    await self._cond.wait_for(lambda: self._closing)
            except TimeoutError:
                pass  # time to retry

    def _ready(self) -> bool:
        return (
            self._depth >= self._max_batch
            or self._closing
            or self._flush_requested
            or self._fault is not None  # the retry after a fault's pause is due now
        )

    def _full(self) -> bool:
        return self._depth >= self._max_batch or self._closing or self._fault is not None

    async def _cycle(self, final: bool) -> None:
        async with self._cond:
            if not self._ready():
                wait = self._interval
                if self._spill_since is not None:
                    wait = min(wait, max(self._next_retry - time.monotonic(), 0.001))
                # at most the flush interval: then flush what there is
                await _wait_at_most(self._cond, self._ready, wait)
            due = self._last_flush + self._commit_delay - time.monotonic()
            if due > 0 and self._flush_requested and not self._full():
                # group commit: flushes start at most once per commit_delay; durable
                # submits arriving meanwhile share the next one (an idle writer flushes
                # at once)
                await _wait_at_most(self._cond, self._full, due)
            taken: list[_Item] = []
            size = 0
            while self._queue and (not taken or size + self._queue[0].size <= self._max_batch):
                item = self._queue.popleft()
                taken.append(item)
                size += item.size
            self._depth -= size
            self._inflight = size
            self._flush_requested = False
            self._cond.notify_all()
        pending: list[_Item] = []
        if taken:
            self._last_flush = time.monotonic()
            self._counts["flushes"] += 1
            at = min(i.at for i in taken)
            batch = ReadingBatch.concat([i.batch for i in taken])
            rejected = [r for i in taken for r in i.rejected]
            pending = [_Item(batch, [], at)] if len(batch) else []
            pending += [_Item(ReadingBatch.empty(), rejected, at)] if rejected else []
            pending[-1].waiters = [w for i in taken for w in i.waiters]
        try:
            await self._drain_spill(force=final)
            while pending:
                item = pending[0]
                await self._deliver(item.batch if len(item.batch) else item.rejected)
                pending.pop(0)
                _settle(item.waiters)
        except BaseException:
            async with self._cond:  # not lost: back to the head of the queue
                self._queue.extendleft(reversed(pending))
                self._depth += sum(i.size for i in pending)
            raise
        finally:
            async with self._cond:
                self._inflight = 0
                self._cond.notify_all()

    async def _deliver(self, record: SpillRecord) -> None:
        """To the store, or to the spill log while the store is down (or replay is due)."""
        if self._spill_since is None:
            outcome = await self._try(record)
            if outcome == "stored":
                key = "stored" if isinstance(record, ReadingBatch) else "rejected"
                self._counts[key] += len(record)
            if outcome != "down":
                return
        self._to_spill(record)

    async def _try(self, record: SpillRecord) -> str:
        """``stored``; ``down`` (the store is unavailable: keep it, retry later); or
        ``refused`` (any other error: the record went to dead letters instead)."""
        try:
            if isinstance(record, ReadingBatch):
                await self._store.write(record)
            else:
                await self._store.write_rejected(record)
        except Unavailable as exc:
            log.warning("readings store unavailable, spilling: %s", exc)
            self._counts["store_errors"] += 1
            return "down"
        except Exception as exc:
            log.exception("readings store refused a record of %d rows", len(record))
            self._counts["store_errors"] += 1
            await self._dead_letter(record, exc)
            return "refused"
        return "stored"

    async def _dead_letter(self, record: SpillRecord, exc: Exception) -> None:
        """A record the store refused: readings to ``rejected_readings``, rejected rows
        (or readings whose dead letters are refused too) to the quarantine log."""
        if isinstance(record, ReadingBatch):
            rows = refused_rows(record, refused_reason(exc), utcnow())
            self._counts["dead_lettered"] += len(record)
            try:
                await self._store.write_rejected(rows)
                self._counts["rejected"] += len(rows)
                return
            except Unavailable as down:
                log.warning("readings store unavailable, spilling dead letters: %s", down)
                self._to_spill(rows)
                return
            except Exception:
                log.exception("the store refused the dead letters too: quarantining them")
        if self._quarantine is None:
            self._quarantine = SpillLog(self._quarantine_dir)
        self._quarantine.append(record)
        self._counts["quarantined"] += len(record)
        log.error("quarantined %d rows in %s", len(record), self._quarantine_dir)

    def _to_spill(self, record: SpillRecord) -> None:
        self._spill.append(record)
        if isinstance(record, ReadingBatch):
            self._counts["spilled"] += len(record)
        if self._spill_since is None:
            self._spill_since = time.monotonic()
            self._next_retry = time.monotonic() + self._backoff

    async def _drain_spill(self, force: bool = False) -> None:
        if self._spill_since is None and not self._spill.pending():
            return
        now = time.monotonic()
        if not force and now < self._next_retry:
            return
        self._spill.rotate()  # appends from now on go to a fresh segment
        for segment in self._spill.segments():
            for record in self._spill.read(segment):
                outcome = await self._try(record)
                if outcome == "down":
                    self._next_retry = time.monotonic() + self._backoff
                    self._backoff = min(self._backoff * 2, self._retry_max)
                    return
                if outcome == "refused":  # dead-lettered: replay goes on
                    continue
                if isinstance(record, ReadingBatch):
                    self._counts["replayed"] += len(record)
                    self._counts["stored"] += len(record)
                else:
                    self._counts["rejected"] += len(record)
            self._spill.remove(segment)
        if self._spill.pending():  # dead letters spilled during the replay
            self._next_retry = time.monotonic() + self._backoff
            return
        self._spill_since = None
        self._backoff = self._retry_initial


async def _wait_at_most(
    cond: asyncio.Condition, predicate: Callable[[], bool], seconds: float
) -> bool:
    """``cond.wait_for(predicate)`` for ``seconds`` at most (``cond`` held); whether the
    predicate came true. Running out of time is an outcome here, not an error."""
    try:
        async with asyncio.timeout(seconds):
            await cond.wait_for(predicate)
    except TimeoutError:
        return False
    return True
