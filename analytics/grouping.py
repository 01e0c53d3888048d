"""A batch of readings made ready for the alert scan: the readings that count, grouped
by sensor, in time order within each sensor.

A reading counts when its sensor is known, its value is a number (not NaN) and it is
newer than the last reading seen for the sensor in earlier batches. The sensor ids are
coded by an ``IdCoder`` (one dict lookup per run of equal ids); the rest is numpy over
the batch plus a little Python per sensor. A batch grouped by sensor, in the order the
coder first saw the sensors, is not sorted at all; one grouped in another order, or
interleaved, costs a stable sort by code; a second sort, by time, comes only when some
sensor's readings are out of time order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from itertools import repeat
from typing import Protocol

import numpy as np

from analytics.codes import IdCoder

__all__ = ["Grouped", "ReadingColumns", "group_readings"]

_NEVER = int(np.iinfo(np.int64).min)


class ReadingColumns(Protocol):
    """Parallel columns of readings, read only (``ingest.store.ReadingBatch`` fits)."""

    @property
    def ts(self) -> np.ndarray: ...  # int64 epoch microseconds

    @property
    def sensor_id(self) -> np.ndarray: ...  # object (str)

    @property
    def asset_id(self) -> np.ndarray: ...  # object (str)

    @property
    def value(self) -> np.ndarray: ...  # float64, NaN when missing


@dataclass(frozen=True, slots=True)
class Grouped:
    """The readings that count, sorted by sensor, then time."""

    ts: np.ndarray
    value: np.ndarray
    src: np.ndarray | None  # position in the batch of each reading (None: the same)
    asset_id: np.ndarray  # the batch's column as given (read at ``src`` for events only)
    starts: np.ndarray  # first index of each group (sensor)
    ends: np.ndarray  # one past the last index of each group
    sensors: list[str]  # the sensor of each group

    def asset_at(self, i: int) -> str:
        return str(self.asset_id[i if self.src is None else self.src[i]])


def group_readings(
    r: ReadingColumns, sensors: Mapping[str, object], coder: IdCoder, last_us: Mapping[str, int]
) -> Grouped | None:
    """``r``'s readings that count, grouped; None when none does."""
    ts = np.asarray(r.ts, dtype=np.int64)
    if not len(ts):
        return None
    value = np.asarray(r.value, dtype=np.float64)
    codes = coder.encode(r.sensor_id)
    names = coder.names
    seen = np.zeros(len(names), dtype=bool)
    seen[codes] = True
    present = np.flatnonzero(seen)
    ids = list(map(names.__getitem__, present.tolist()))  # map: no Python frame per id
    known = np.zeros(len(names), dtype=bool)  # by code
    known[present] = list(map(sensors.__contains__, ids))
    if not known.any():
        return None
    last = np.full(len(names), _NEVER, dtype=np.int64)  # by code
    last[present] = list(map(last_us.get, ids, repeat(_NEVER)))
    keep = np.isfinite(value) & known[codes] & (ts > last[codes])
    src: np.ndarray | None = None
    if not keep.all():
        src = np.flatnonzero(keep)
        if not len(src):
            return None
        ts, value, codes = ts[src], value[src], codes[src]
    n = len(ts)
    if (codes[1:] < codes[:-1]).any():  # group by sensor (stable: time order kept)
        order = np.argsort(codes, kind="stable")
        ts, value, codes = ts[order], value[order], codes[order]
        src = order if src is None else src[order]
    head = np.ones(n, dtype=bool)
    head[1:] = codes[1:] != codes[:-1]
    if not ((ts[1:] >= ts[:-1]) | head[1:]).all():  # some sensor's readings out of order
        order = np.lexsort((ts, codes))  # the groups stay; ties keep the batch's order
        ts, value = ts[order], value[order]
        src = order if src is None else src[order]
    starts = np.flatnonzero(head)
    ends = np.r_[starts[1:], n]
    group_ids = list(map(names.__getitem__, codes[starts].tolist()))
    return Grouped(ts, value, src, np.asarray(r.asset_id, dtype=object), starts, ends, group_ids)
