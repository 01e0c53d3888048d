"""Progress of long work (simulation runs, jobs) for subscribers, by the work's id.

``ProgressBoard.watch(key, current, live=..., done=...)`` answers the work's current
state first, then each published change until one is final; ``publish(key, update)``
hands a change to every watcher of ``key``. Each watcher has a bounded queue: when a
slow subscriber lets it fill, the oldest tick is dropped and the newest kept (a final
state is the newest, so it is never the one dropped). The queue is registered before the
current state is read, so no change between the two is missed. Pure asyncio.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["ProgressBoard"]

U = TypeVar("U")


class ProgressBoard(Generic[U]):
    def __init__(self, maxsize: int = 32) -> None:
        self._maxsize = maxsize
        self._watchers: dict[str, set[asyncio.Queue[U]]] = {}

    def publish(self, key: str, update: U) -> None:
        for queue in list(self._watchers.get(key, ())):
            if queue.full():
                queue.get_nowait()  # drop the oldest progress tick, keep the newest
            queue.put_nowait(update)

    async def watch(
        self,
        key: str,
        current: Callable[[], Awaitable[U]],
        *,
        live: Callable[[], bool],
        done: Callable[[U], bool],
    ) -> AsyncIterator[U]:
        """``current()`` first; then, while the work is ``live()`` here, each change
        until ``done`` says it is final."""
        queue: asyncio.Queue[U] = asyncio.Queue(maxsize=self._maxsize)
        self._watchers.setdefault(key, set()).add(queue)
        try:
            first = await current()
            yield first
            if done(first) or not live():
                return
            while True:
                update = await queue.get()
                yield update
                if done(update):
                    return
        finally:
            watchers = self._watchers.get(key, set())
            watchers.discard(queue)
            if not watchers:
                self._watchers.pop(key, None)
