"""Columnar batches of validated readings, the unit every store writes.

A ``ReadingBatch`` holds parallel numpy arrays: ``ts`` (int64 epoch microseconds, UTC),
``value`` (float64, NaN where the value is missing), and object arrays of str for
``sensor_id``, ``asset_id`` and ``quality``. Stores turn it into Arrow (DuckDB) or ILP
rows (QuestDB) without a Python object per reading in between.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from graph.errors import ValidationError

__all__ = ["ReadingBatch"]


def _obj(values: Sequence[str] | np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValidationError("batch columns must be one-dimensional")
    return arr


@dataclass(frozen=True, slots=True, eq=False)
class ReadingBatch:
    ts: np.ndarray
    sensor_id: np.ndarray
    asset_id: np.ndarray
    value: np.ndarray
    quality: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.ts)
        for name in ("sensor_id", "asset_id", "value", "quality"):
            if len(getattr(self, name)) != n:
                raise ValidationError(f"batch column {name} has a different length")

    @classmethod
    def from_columns(
        cls,
        ts: Sequence[int] | np.ndarray,
        sensor_id: Sequence[str] | np.ndarray,
        asset_id: Sequence[str] | np.ndarray,
        value: Sequence[float | None] | np.ndarray,
        quality: Sequence[str] | np.ndarray,
    ) -> ReadingBatch:
        vals = np.array(value, dtype=np.float64)  # None -> NaN
        return cls(
            ts=np.asarray(ts, dtype=np.int64),
            sensor_id=_obj(sensor_id),
            asset_id=_obj(asset_id),
            value=vals,
            quality=_obj(quality),
        )

    def rows(self) -> Iterator[tuple[int, str, str, float, str]]:
        """``(ts_us, sensor_id, asset_id, value, quality)`` per reading, as Python values
        (for the few consumers that need one object per reading: messages, dead letters)."""
        return zip(
            self.ts.tolist(),
            self.sensor_id.tolist(),
            self.asset_id.tolist(),
            self.value.tolist(),
            self.quality.tolist(),
            strict=True,
        )

    @classmethod
    def empty(cls) -> ReadingBatch:
        return cls.from_columns([], [], [], np.empty(0), [])

    @classmethod
    def concat(cls, batches: Sequence[ReadingBatch]) -> ReadingBatch:
        batches = [b for b in batches if len(b)]
        if not batches:
            return cls.empty()
        if len(batches) == 1:
            return batches[0]
        return cls(
            ts=np.concatenate([b.ts for b in batches]),
            sensor_id=np.concatenate([b.sensor_id for b in batches]),
            asset_id=np.concatenate([b.asset_id for b in batches]),
            value=np.concatenate([b.value for b in batches]),
            quality=np.concatenate([b.quality for b in batches]),
        )

    def __len__(self) -> int:
        return len(self.ts)

    def take(self, index: np.ndarray | slice) -> ReadingBatch:
        return ReadingBatch(
            ts=self.ts[index],
            sensor_id=self.sensor_id[index],
            asset_id=self.asset_id[index],
            value=self.value[index],
            quality=self.quality[index],
        )

    def dedup(self) -> ReadingBatch:
        """Keep the last reading of each (sensor_id, ts): last write wins, as in the store."""
        n = len(self)
        if n < 2:
            return self
        # integer codes per sensor id, hashed in Arrow: sorting Python strings
        # (np.unique of an object array) cost several times more per batch
        keys = pa.array(self.sensor_id, type=pa.string()).dictionary_encode().indices
        keys = np.asarray(keys.to_numpy(zero_copy_only=False), dtype=np.int64)
        order = np.lexsort((self.ts, keys))  # stable: equal keys keep their order
        k, t = keys[order], self.ts[order]
        last = np.ones(n, dtype=bool)
        last[:-1] = (k[1:] != k[:-1]) | (t[1:] != t[:-1])
        if last.all():
            return self
        return self.take(np.sort(order[last]))

    def newest(self) -> ReadingBatch:
        """The newest reading of each sensor (of equal times, the later in the batch):
        positions in time order (an integer sort), a dict keeps each sensor's last."""
        if len(self) < 2:
            return self
        order = np.argsort(self.ts, kind="stable")
        last: dict[str, int] = dict(
            zip(self.sensor_id[order].tolist(), order.tolist(), strict=True)
        )
        return self.take(np.fromiter(last.values(), dtype=np.int64, count=len(last)))

    def to_arrow(self) -> pa.Table:
        value = pa.array(self.value, type=pa.float64(), from_pandas=True)  # NaN -> null
        return pa.table(
            {
                "ts": pa.array(self.ts, type=pa.timestamp("us")),
                "asset_id": pa.array(self.asset_id, type=pa.string()),
                "sensor_id": pa.array(self.sensor_id, type=pa.string()),
                "value": value,
                "quality": pa.array(self.quality, type=pa.string()),
            }
        )

    @classmethod
    def from_arrow(cls, table: pa.Table) -> ReadingBatch:
        ts = table.column("ts").cast(pa.int64()).to_numpy()
        value = table.column("value").to_numpy(zero_copy_only=False).astype(np.float64)
        return cls(
            ts=np.asarray(ts, dtype=np.int64),
            sensor_id=np.asarray(table.column("sensor_id").to_pylist(), dtype=object),
            asset_id=np.asarray(table.column("asset_id").to_pylist(), dtype=object),
            value=value,
            quality=np.asarray(table.column("quality").to_pylist(), dtype=object),
        )
