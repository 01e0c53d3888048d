"""The batching writer: bounded queue in, batches to the store out, spill when it is down.

``submit`` queues a validated batch (and its rejected rows) and returns; it waits
while ``max_queue`` readings are already queued (backpressure, never unbounded
growth). One consumer task flushes when ``max_batch`` readings are queued or
``flush_interval`` seconds have passed. When the store fails, the batch is appended
to the spill log (fsynced) and, from then on, every batch follows it there until a
background replay, retried with exponential backoff, has written the whole log back
in order. Leftover spill files from an earlier run are replayed at start.
``aclose`` flushes everything (to the store, or to the spill log if it is down).

Only ``Unavailable`` means "try again later". Any other error of a write means the
store refuses that record and always will: it is not retried (it would stall every
later batch behind it) but moved to dead letters (``ingest.pipeline.deadletter``): its
readings become ``rejected_readings`` rows with the store's answer as the reason, or,
if those are refused too, records of the quarantine log. The writer carries on.

If the consumer task itself fails (the spill log cannot be appended to: disk full),
the batch it held goes back to the head of the queue, ``failure`` says why, and
``submit``/``flush`` raise ``Unavailable`` instead of queueing what nobody would
write. ``aclose`` then makes one last attempt to write what is queued.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(slots=True)
class _Item:
    batch: ReadingBatch
    rejected: list[RejectedRow]
    at: float

    @property
    def size(self) -> int:
        return max(len(self.batch) + len(self.rejected), 1)


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
    ) -> None:
        self._store = store
        self._spill = SpillLog(spill_dir)
        self._quarantine_dir = spill_dir / "quarantine"
        self._quarantine: SpillLog | None = None
        self._max_batch = max_batch
        self._interval = flush_interval
        self._max_queue = max_queue
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._backoff = retry_initial
        self._next_retry = 0.0
        self._queue: deque[_Item] = deque()
        self._depth = 0
        self._inflight = 0
        self._cond = asyncio.Condition()
        self._closing = False
        self._flush_requested = False
        self._task: asyncio.Task[None] | None = None
        self._failure: str | None = None
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
            ),
            0,
        )

    # -- public ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="twinql-batch-writer")

    @property
    def failure(self) -> str | None:
        """Why the consumer task stopped, or None while it runs (or never failed)."""
        return self._failure

    def _check_alive(self) -> None:
        if self._failure is not None:
            raise Unavailable(self._failure)

    def _has_room(self, item: _Item) -> bool:
        return (
            self._failure is not None
            or self._depth == 0
            or self._depth + item.size <= self._max_queue
        )

    async def submit(self, batch: ReadingBatch, rejected: Sequence[RejectedRow] = ()) -> None:
        """Queue readings (and rejected rows); waits while the queue is full. Raises
        ``Unavailable`` once the writer is closed or its task has failed."""
        if self._closing:
            raise Unavailable("the batch writer is closed")
        self._check_alive()
        items = [
            _Item(batch.take(slice(i, i + self._max_batch)), [], time.monotonic())
            for i in range(0, len(batch), self._max_batch)
        ]
        if rejected:
            items.append(_Item(ReadingBatch.empty(), list(rejected), time.monotonic()))
        for item in items:
            async with self._cond:
                await self._cond.wait_for(partial(self._has_room, item))
                self._check_alive()
                self._queue.append(item)
                self._depth += item.size
                self._counts["received"] += len(item.batch)
                self._cond.notify_all()

    async def flush(self) -> None:
        """Return once everything submitted so far is in the store or the spill log
        (or dead letters); raises ``Unavailable`` if the writer's task has failed."""
        async with self._cond:
            self._check_alive()
            self._flush_requested = True
            self._next_retry = 0.0
            self._cond.notify_all()
            await self._cond.wait_for(
                lambda: self._failure is not None or (self._depth == 0 and self._inflight == 0)
            )
            self._check_alive()

    async def aclose(self) -> None:
        """Flush everything, then stop. Spilled data stays on disk for the next start.
        After a failure of the task, one last attempt writes what is queued; if that
        fails too, ``Unavailable`` says how many readings were not written."""
        self._closing = True
        async with self._cond:
            self._cond.notify_all()
        if self._task is not None:
            await self._task
            self._task = None
            if self._failure is None:
                return
        try:
            while True:
                await self._cycle(final=True)
                if not self._queue:
                    return
        except Exception as exc:
            left = sum(len(i.batch) for i in self._queue)
            log.error("batch writer closed with %d readings not written: %s", left, exc)
            raise Unavailable(
                f"the batch writer could not write {left} queued readings: {exc}"
            ) from exc

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
        )

    # -- the consumer ----------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while True:
                await self._cycle(final=self._closing)
                if self._closing and not self._queue:
                    await self._cycle(final=True)
                    return
        except Exception as exc:
            log.exception("the batch writer stopped")
            self._failure = f"the batch writer stopped: {type(exc).__name__}: {exc}"
            async with self._cond:
                self._cond.notify_all()  # wake submit/flush: they raise now

    def _ready(self) -> bool:
        return self._depth >= self._max_batch or self._closing or self._flush_requested

    async def _cycle(self, final: bool) -> None:
        async with self._cond:
            if not self._ready():
                wait = self._interval
                if self._spill_since is not None:
                    wait = min(wait, max(self._next_retry - time.monotonic(), 0.001))
                try:
                    async with asyncio.timeout(wait):
                        await self._cond.wait_for(self._ready)
                except TimeoutError:
                    pass  # the flush interval elapsed: flush what there is
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
            at = min(i.at for i in taken)
            batch = ReadingBatch.concat([i.batch for i in taken])
            rejected = [r for i in taken for r in i.rejected]
            pending = [_Item(batch, [], at)] if len(batch) else []
            pending += [_Item(ReadingBatch.empty(), rejected, at)] if rejected else []
        try:
            await self._drain_spill(force=final)
            while pending:
                item = pending[0]
                await self._deliver(item.batch if len(item.batch) else item.rejected)
                pending.pop(0)
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
