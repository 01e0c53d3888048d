"""Bounded fan-out: one publisher, many subscribers, publishing never waits.

Each subscriber has its own bounded queue. When it is full the oldest item is dropped
and counted, and the subscriber receives a ``Missed`` marker before its next item, so a
slow subscriber never slows the publisher or the other subscribers. The live bus of
readings, asset events and setpoint outcomes all fan out through this.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Fanout", "FanoutSubscription", "Missed"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Missed:
    """Items dropped for this subscriber since its last read; ``readings`` counts what
    they held (equal to ``updates`` for items that are not batches)."""

    updates: int
    readings: int


class FanoutSubscription(Generic[T]):
    """One subscriber's bounded queue. ``select`` filters or narrows each item (None:
    not for this subscriber); ``size`` counts what a dropped item held."""

    def __init__(
        self,
        hub: Fanout[T],
        maxsize: int,
        select: Callable[[T], T | None] | None = None,
        size: Callable[[T], int] | None = None,
    ) -> None:
        self._hub = hub
        self._select = select
        self._size = size
        self._queue: deque[T] = deque()
        self._maxsize = maxsize
        self._event = asyncio.Event()
        self._missed_updates = 0
        self._missed_readings = 0
        self.missed_total = 0
        self.closed = False

    def reselect(self, select: Callable[[T], T | None] | None) -> None:
        """Filter the next items with ``select`` (what is queued stays as it is)."""
        self._select = select

    def _offer(self, item: T) -> None:
        if self._select is not None:
            picked = self._select(item)
            if picked is None:
                return
            item = picked
        if len(self._queue) >= self._maxsize:
            dropped = self._queue.popleft()
            self._missed_updates += 1
            self._missed_readings += self._size(dropped) if self._size else 1
            self.missed_total += 1
        self._queue.append(item)
        self._event.set()

    async def get(self) -> T | Missed:
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

    def ready(self) -> list[T | Missed]:
        """What ``get`` would return now without waiting, all of it (a ``Missed``
        marker first when items were dropped): a subscriber that fell behind catches
        up in one step."""
        out: list[T | Missed] = []
        if self._missed_updates:
            out.append(Missed(self._missed_updates, self._missed_readings))
            self._missed_updates = self._missed_readings = 0
        out.extend(self._queue)
        self._queue.clear()
        return out

    def __aiter__(self) -> AsyncIterator[T | Missed]:
        return self

    async def __anext__(self) -> T | Missed:
        return await self.get()

    def close(self) -> None:
        self.closed = True
        self._event.set()
        self._hub._subscribers.discard(self)

    def __enter__(self) -> FanoutSubscription[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Fanout(Generic[T]):
    def __init__(self, default_maxsize: int = 1_000) -> None:
        self._default = default_maxsize
        self._subscribers: set[FanoutSubscription[T]] = set()
        self.published = 0

    def subscribe(
        self,
        accept: Callable[[T], bool] | None = None,
        maxsize: int | None = None,
        *,
        select: Callable[[T], T | None] | None = None,
        size: Callable[[T], int] | None = None,
    ) -> FanoutSubscription[T]:
        """``accept``: keep items it returns True for; ``select``: keep what it returns."""
        if accept is not None:
            if select is not None:
                raise ValueError("give accept or select, not both")
            keep = accept
            select = lambda item: item if keep(item) else None  # noqa: E731
        sub = FanoutSubscription(self, maxsize or self._default, select, size)
        self._subscribers.add(sub)
        return sub

    def publish(self, item: T) -> None:
        self.published += 1
        for sub in list(self._subscribers):
            sub._offer(item)

    def close(self) -> None:
        for sub in list(self._subscribers):
            sub.close()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
