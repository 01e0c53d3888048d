"""Turn a sorted columnar result (sensor_id, t, v[, quality]) into per-sensor Series."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ingest.store.port import Series

__all__ = ["align", "fill_grid", "split_series"]


def _floats(values: np.ndarray) -> np.ndarray:
    if np.ma.isMaskedArray(values):
        return np.ma.filled(values.astype(np.float64), np.nan)
    return np.asarray(values, dtype=np.float64)


def split_series(
    ids: Sequence[str], cols: Mapping[str, np.ndarray], *, with_quality: bool
) -> dict[str, Series]:
    """``cols`` sorted by sensor_id then time; every id in ``ids`` gets a series."""
    sids = np.asarray(cols["sensor_id"], dtype=object)
    times = np.asarray(np.ma.filled(cols["t"], 0), dtype=np.int64)
    values = _floats(cols["v"] if "v" in cols else cols["value"])
    quality = np.asarray(cols["quality"], dtype=object) if with_quality else None
    out: dict[str, Series] = {}
    if len(sids):
        cuts = np.flatnonzero(sids[1:] != sids[:-1]) + 1
        starts = np.concatenate(([0], cuts))
        ends = np.concatenate((cuts, [len(sids)]))
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            sid = str(sids[a])
            out[sid] = Series(
                sid, times[a:b], values[a:b], None if quality is None else quality[a:b]
            )
    empty_q = np.empty(0, dtype=object) if with_quality else None
    return {
        sid: out.get(sid) or Series(sid, np.empty(0, np.int64), np.empty(0, np.float64), empty_q)
        for sid in ids
    }


def align(series: Mapping[str, Series], ids: Sequence[str], grid: np.ndarray) -> np.ndarray:
    """Several bucketed series on one time axis: a (len(ids), len(grid)) float64 matrix,
    NaN where a sensor has no bucket at that time."""
    matrix = np.full((len(ids), len(grid)), np.nan, dtype=np.float64)
    for row, sid in enumerate(ids):
        s = series.get(sid)
        if s is None or not len(s):
            continue
        pos = np.searchsorted(grid, s.times)
        ok = (pos < len(grid)) & (grid[np.minimum(pos, len(grid) - 1)] == s.times)
        matrix[row, pos[ok]] = s.values[ok]
    return matrix


def fill_grid(series: Series, grid: np.ndarray, fill: str) -> Series:
    """Put a bucketed series on ``grid`` and fill its empty buckets (``none`` keeps it
    as is; ``null``: NaN; ``previous``: carry forward; ``linear``: interpolate between
    neighbours). Vectorised; matches the DuckDB store's SQL fills."""
    if fill == "none":
        return series
    values = align({series.sensor_id: series}, [series.sensor_id], grid)[0]
    known = ~np.isnan(values)
    if fill == "previous":
        idx = np.where(known, np.arange(len(values)), -1)
        np.maximum.accumulate(idx, out=idx)
        values = np.where(idx >= 0, values[np.maximum(idx, 0)], np.nan)
    elif fill == "linear" and known.sum() >= 1:
        pos = np.flatnonzero(known)
        inside = (np.arange(len(values)) >= pos[0]) & (np.arange(len(values)) <= pos[-1])
        interp = np.interp(grid, grid[pos], values[pos])
        values = np.where(inside, interp, np.nan)
    return Series(series.sensor_id, grid.copy(), values, None)
