"""The latest value of each sensor, in memory: warmed from the store at start-up,
updated from every accepted batch (only ever moving forward in time)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from graph.timeutil import from_us, to_us
from ingest.reading import Quality
from ingest.store import LatestValue, ReadingBatch, ReadingsStore

__all__ = ["LatestCache"]


class LatestCache:
    def __init__(self) -> None:
        self._values: dict[str, LatestValue] = {}
        self._ts: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._values)

    async def warm(self, store: ReadingsStore, sensor_ids: Sequence[str]) -> int:
        """Load the newest stored reading of each sensor (one query); returns how many."""
        await store.sync()
        found = await store.latest(sensor_ids)
        for value in found.values():
            self._put(value, to_us(value.ts))
        return len(found)

    def _put(self, value: LatestValue, ts: int) -> None:
        if ts >= self._ts.get(value.sensor_id, -(2**63)):
            self._values[value.sensor_id] = value
            self._ts[value.sensor_id] = ts

    def update(self, batch: ReadingBatch) -> None:
        """Take the newest reading per sensor of ``batch`` (vectorised selection)."""
        n = len(batch)
        if not n:
            return
        codes = np.unique(batch.sensor_id, return_inverse=True)[1]
        order = np.lexsort((np.arange(n), batch.ts, codes))
        last = np.ones(n, dtype=bool)
        last[:-1] = codes[order][1:] != codes[order][:-1]
        for i in order[last].tolist():
            value = float(batch.value[i])
            self._put(
                LatestValue(
                    sensor_id=str(batch.sensor_id[i]),
                    asset_id=str(batch.asset_id[i]),
                    ts=from_us(int(batch.ts[i])),
                    value=None if np.isnan(value) else value,
                    quality=Quality(batch.quality[i]),
                ),
                int(batch.ts[i]),
            )

    def get(self, sensor_id: str) -> LatestValue | None:
        return self._values.get(sensor_id)

    def get_many(self, sensor_ids: Iterable[str]) -> dict[str, LatestValue]:
        return {i: self._values[i] for i in sensor_ids if i in self._values}
