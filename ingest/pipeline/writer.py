"""The batching writer: bounded queue in, batches to the store out, spill when it is down.

``submit`` queues a validated batch (and its rejected rows) and returns; it waits
while ``max_queue`` readings are already queued (backpressure, never unbounded
growth). One consumer task flushes when ``max_batch`` readings are queued or
``flush_interval`` seconds have passed. When the store fails, the batch is appended
to the spill log (fsynced) and, from then on, every batch follows it there until a
background replay, retried with exponential backoff, has written the whole log back
in order. Leftover spill files from an earlier run are replayed at start.
``aclose`` flushes everything (to the store, or to the spill log if it is down).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from graph.errors import Unavailable
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
        self._spill_since: float | None = time.monotonic() if self._spill.pending() else None
        self._counts = dict.fromkeys(
            ("received", "stored", "rejected", "spilled", "replayed", "store_errors"), 0
        )

    # -- public ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="twinql-batch-writer")

    async def submit(self, batch: ReadingBatch, rejected: Sequence[RejectedRow] = ()) -> None:
        """Queue readings (and rejected rows); waits while the queue is full."""
        if self._closing:
            raise Unavailable("the batch writer is closed")
        items = [
            _Item(batch.take(slice(i, i + self._max_batch)), [], time.monotonic())
            for i in range(0, len(batch), self._max_batch)
        ]
        if rejected:
            items.append(_Item(ReadingBatch.empty(), list(rejected), time.monotonic()))
        for item in items:
            async with self._cond:
                await self._cond.wait_for(
                    lambda item=item: self._depth == 0 or self._depth + item.size <= self._max_queue
                )
                self._queue.append(item)
                self._depth += item.size
                self._counts["received"] += len(item.batch)
                self._cond.notify_all()

    async def flush(self) -> None:
        """Return once everything submitted so far is in the store or the spill log."""
        async with self._cond:
            self._flush_requested = True
            self._next_retry = 0.0
            self._cond.notify_all()
            await self._cond.wait_for(lambda: self._depth == 0 and self._inflight == 0)

    async def aclose(self) -> None:
        """Flush everything, then stop. Spilled data stays on disk for the next start."""
        self._closing = True
        async with self._cond:
            self._cond.notify_all()
        if self._task is not None:
            await self._task
            self._task = None
        else:
            await self._cycle(final=True)

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
        while True:
            await self._cycle(final=self._closing)
            if self._closing and not self._queue:
                await self._cycle(final=True)
                return

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
        try:
            await self._drain_spill(force=final)
            if taken:
                batch = ReadingBatch.concat([i.batch for i in taken])
                rejected = [r for i in taken for r in i.rejected]
                await self._deliver(batch, rejected)
        finally:
            async with self._cond:
                self._inflight = 0
                self._cond.notify_all()

    async def _deliver(self, batch: ReadingBatch, rejected: list[RejectedRow]) -> None:
        if len(batch):
            if self._spill_since is None and await self._try(batch):
                self._counts["stored"] += len(batch)
            else:
                self._to_spill(batch)
        if rejected:
            if self._spill_since is None and await self._try(rejected):
                self._counts["rejected"] += len(rejected)
            else:
                self._to_spill(rejected)

    async def _try(self, record: SpillRecord) -> bool:
        try:
            if isinstance(record, ReadingBatch):
                await self._store.write(record)
            else:
                await self._store.write_rejected(record)
        except Unavailable as exc:
            log.warning("readings store unavailable, spilling: %s", exc)
            self._counts["store_errors"] += 1
            return False
        except Exception:
            # Not a connection problem; still keep the data (spilled, retried later).
            log.exception("readings store write failed, spilling")
            self._counts["store_errors"] += 1
            return False
        return True

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
                if not await self._try(record):
                    self._next_retry = time.monotonic() + self._backoff
                    self._backoff = min(self._backoff * 2, self._retry_max)
                    return
                if isinstance(record, ReadingBatch):
                    self._counts["replayed"] += len(record)
                    self._counts["stored"] += len(record)
                else:
                    self._counts["rejected"] += len(record)
            self._spill.remove(segment)
        self._spill_since = None
        self._backoff = self._retry_initial
