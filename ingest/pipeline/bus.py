"""The live bus: every accepted batch, fanned out to subscribers (later: GraphQL
subscriptions). Publishing never waits: each subscriber has a bounded queue; when it
is full the oldest update is dropped and counted, and the subscriber receives a
``Missed(n)`` marker before its next update. A slow subscriber never slows ingest or
the other subscribers."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import numpy as np

from ingest.store import ReadingBatch

__all__ = ["LiveBus", "Missed", "Subscription"]


@dataclass(frozen=True, slots=True)
class Missed:
    """Updates dropped for this subscriber since its last read (``readings`` in them)."""

    updates: int
    readings: int


class Subscription:
    def __init__(self, bus: LiveBus, sensor_ids: frozenset[str] | None, maxsize: int) -> None:
        self._bus = bus
        self.sensor_ids = sensor_ids
        self._filter = None if sensor_ids is None else np.array(sorted(sensor_ids), dtype=object)
        self._queue: deque[ReadingBatch] = deque()
        self._maxsize = maxsize
        self._event = asyncio.Event()
        self._missed_updates = 0
        self._missed_readings = 0
        self.missed_total = 0
        self.closed = False

    def _offer(self, batch: ReadingBatch) -> None:
        if self._filter is not None:
            batch = batch.take(np.isin(batch.sensor_id, self._filter))
            if not len(batch):
                return
        if len(self._queue) >= self._maxsize:
            dropped = self._queue.popleft()
            self._missed_updates += 1
            self._missed_readings += len(dropped)
            self.missed_total += 1
        self._queue.append(batch)
        self._event.set()

    async def get(self) -> ReadingBatch | Missed:
        while True:
            if self._missed_updates:
                marker = Missed(self._missed_updates, self._missed_readings)
                self._missed_updates = self._missed_readings = 0
                return marker
            if self._queue:
                return self._queue.popleft()
            if self.closed:
                raise StopAsyncIteration
            self._event.clear()
            await self._event.wait()

    def __aiter__(self) -> AsyncIterator[ReadingBatch | Missed]:
        return self

    async def __anext__(self) -> ReadingBatch | Missed:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._event.set()
        self._bus._subscribers.discard(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LiveBus:
    def __init__(self, default_maxsize: int = 1_000) -> None:
        self._default = default_maxsize
        self._subscribers: set[Subscription] = set()
        self.published = 0

    def subscribe(
        self, sensor_ids: Iterable[str] | None = None, maxsize: int | None = None
    ) -> Subscription:
        """Updates for ``sensor_ids`` (all sensors when None); close it when done."""
        ids = None if sensor_ids is None else frozenset(sensor_ids)
        sub = Subscription(self, ids, maxsize or self._default)
        self._subscribers.add(sub)
        return sub

    def publish(self, batch: ReadingBatch) -> None:
        if not len(batch):
            return
        self.published += 1
        for sub in list(self._subscribers):
            sub._offer(batch)

    def close(self) -> None:
        for sub in list(self._subscribers):
            sub.close()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
