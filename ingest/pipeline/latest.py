"""The latest value of each sensor, in memory: warmed from the store at start-up,
updated from every accepted batch (only ever moving forward in time)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from graph.timeutil import from_us, to_us
from ingest.reading import Quality
from ingest.store import LatestValue, ReadingBatch, ReadingsStore

__all__ = ["LatestCache"]


# (ts in epoch µs, asset id, value or None, quality) of a sensor's newest reading: kept
# as plain values, a LatestValue (with its datetime) is built when someone reads it.
_Row = tuple[int, str, float | None, str]


class LatestCache:
    def __init__(self) -> None:
        self._rows: dict[str, _Row] = {}

    def __len__(self) -> int:
        return len(self._rows)

    async def warm(self, store: ReadingsStore, sensor_ids: Sequence[str]) -> int:
        """Load the newest stored reading of each sensor (one query); returns how many.
        Only ever moves a sensor forward: values that arrived meanwhile are kept."""
        await store.sync()
        found = await store.latest(sensor_ids)
        rows = self._rows
        for v in found.values():
            ts = to_us(v.ts)
            old = rows.get(v.sensor_id)
            if old is None or ts >= old[0]:
                rows[v.sensor_id] = (ts, v.asset_id, v.value, Quality(v.quality).value)
        return len(found)

    def update(self, batch: ReadingBatch) -> None:
        """Take the newest reading per sensor of ``batch``: the positions in time order
        (an integer sort), then a dict keyed by sensor keeps each one's last, which is
        its newest (of equal times, the later in the batch); no object per reading."""
        if not len(batch):
            return
        top = batch.newest()
        rows = self._rows
        ts, assets, values, qualities = top.ts, top.asset_id, top.value, top.quality
        for i, sid in enumerate(top.sensor_id.tolist()):
            t = int(ts[i])
            old = rows.get(sid)
            if old is None or t >= old[0]:
                value = float(values[i])
                rows[sid] = (t, assets[i], None if value != value else value, qualities[i])

    def _value(self, sensor_id: str, row: _Row) -> LatestValue:
        ts, asset_id, value, quality = row
        return LatestValue(
            sensor_id=sensor_id,
            asset_id=str(asset_id),
            ts=from_us(ts),
            value=value,
            quality=Quality(quality),
        )

    def get(self, sensor_id: str) -> LatestValue | None:
        row = self._rows.get(sensor_id)
        return None if row is None else self._value(sensor_id, row)

    def get_many(self, sensor_ids: Iterable[str]) -> dict[str, LatestValue]:
        rows = self._rows
        return {i: self._value(i, rows[i]) for i in sensor_ids if i in rows}
