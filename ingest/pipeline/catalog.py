"""What validation knows about sensors: a catalogue port and a caching wrapper.

The graph-backed catalogue lives with the composition root; ``StaticCatalog`` holds
sensors in memory (standalone use and tests). ``CachedCatalog`` remembers answers,
unknown ids included, for ``ttl`` seconds or until ``invalidate`` is called (the
registry calls it when sensors change).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol, runtime_checkable

from graph.model import Sensor

__all__ = ["CachedCatalog", "SensorCatalog", "StaticCatalog"]


@runtime_checkable
class SensorCatalog(Protocol):
    async def get_many(self, ids: Iterable[str]) -> dict[str, Sensor]:
        """The known sensors among ``ids`` (unknown ids are absent)."""
        ...


class StaticCatalog:
    def __init__(self, sensors: Iterable[Sensor] = ()) -> None:
        self._sensors = {s.id: s for s in sensors}
        self.lookups = 0

    def put(self, sensor: Sensor) -> None:
        self._sensors[sensor.id] = sensor

    def remove(self, sensor_id: str) -> None:
        self._sensors.pop(sensor_id, None)

    async def get_many(self, ids: Iterable[str]) -> dict[str, Sensor]:
        self.lookups += 1
        return {i: self._sensors[i] for i in ids if i in self._sensors}


class CachedCatalog:
    def __init__(
        self,
        inner: SensorCatalog,
        ttl: float = 30.0,
        max_entries: int = 200_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: dict[str, tuple[float, Sensor | None]] = {}

    def invalidate(self, ids: Iterable[str] | None = None) -> None:
        """Forget ``ids`` (everything when None): the next lookup asks the inner catalogue."""
        if ids is None:
            self._entries.clear()
            return
        for i in ids:
            self._entries.pop(i, None)

    async def get_many(self, ids: Iterable[str]) -> dict[str, Sensor]:
        now = self._clock()
        wanted = set(ids)
        found: dict[str, Sensor] = {}
        missing: list[str] = []
        for i in wanted:
            entry = self._entries.get(i)
            if entry is None or entry[0] <= now:
                missing.append(i)
            elif entry[1] is not None:
                found[i] = entry[1]
        if missing:
            fresh = await self._inner.get_many(missing)
            if len(self._entries) + len(missing) > self._max:
                self._entries.clear()
            expiry = now + self._ttl
            for i in missing:
                sensor = fresh.get(i)
                self._entries[i] = (expiry, sensor)
                if sensor is not None:
                    found[i] = sensor
        return found
