"""Sliding-window features per sensor, vectorised over every sensor and window at once.

Contract: ``window_features(ts_us, values, sensor, n_sensors=, window_s=, step_s=) ->
WindowFeatures`` from flat reading columns (int64 µs timestamps, float values, an integer
sensor code per reading, in any order); ``series_features(series, ...)`` takes one
``(ts_us, values)`` pair per sensor instead. Pure: arrays in, arrays out.

**Windows** lie on one grid shared by every sensor: window ``k`` covers ``[origin + k *
step, origin + k * step + length)`` (µs). ``origin`` defaults to the earliest reading
rounded down to a whole step since the epoch, so two calls over overlapping data agree on
their windows; only whole windows up to ``end_us`` (default: just past the newest reading)
are made. The result is dense: every sensor has a row for every window, NaN where it had
fewer than ``min_samples`` finite readings (``counts`` says how many it had).

**Features** (``FEATURES``, in this order, population statistics over a window's readings):

=============  ==========================================================================
``mean``       arithmetic mean
``std``        standard deviation (ddof 0)
``rms``        root mean square of the raw values, ``sqrt(mean(x^2))``
``p2p``        peak to peak, ``max - min``
``kurtosis``   excess (Fisher) kurtosis ``m4 / m2^2 - 3``, 0 for a constant window
``slope``      least-squares slope of value over time, units per **hour**; 0 when all the
               window's readings share one timestamp
=============  ==========================================================================

How it runs: readings are sorted by (sensor, time) once (skipped when they come sorted);
each window's first reading and count come from one ``searchsorted`` over a combined
(sensor, time) key; the windows' readings are gathered into a padded block (rows x
longest window) and reduced along its rows, two-pass (mean first, then central moments),
so drifting sensors keep their precision. Blocks hold at most ``BLOCK_VALUES`` readings;
there is a Python step per block, none per window or sensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graph.errors import ValidationError

__all__ = ["BLOCK_VALUES", "FEATURES", "WindowFeatures", "series_features", "window_features"]

FEATURES: tuple[str, ...] = ("mean", "std", "rms", "p2p", "kurtosis", "slope")
BLOCK_VALUES = 1 << 20
_US_PER_H = 3_600_000_000.0


@dataclass(frozen=True, slots=True, eq=False)
class WindowFeatures:
    """Features of ``n_sensors`` sensors over ``n_windows`` windows on one grid.

    ``values[s, k, f]`` is feature ``FEATURES[f]`` of sensor ``s`` over window ``k``
    (NaN where ``counts[s, k] < min_samples``); ``starts_us[k]`` is the window's start,
    ``length_us`` its length."""

    starts_us: np.ndarray  # (n_windows,) int64
    length_us: int
    step_us: int
    values: np.ndarray  # (n_sensors, n_windows, len(FEATURES)) float64
    counts: np.ndarray  # (n_sensors, n_windows) int64

    @property
    def n_sensors(self) -> int:
        return int(self.values.shape[0])

    @property
    def n_windows(self) -> int:
        return int(self.values.shape[1])

    @property
    def rows(self) -> int:
        """Feature rows: one per (sensor, window)."""
        return self.n_sensors * self.n_windows

    @property
    def ends_us(self) -> np.ndarray:
        return self.starts_us + self.length_us

    def feature(self, name: str) -> np.ndarray:
        """``(n_sensors, n_windows)`` of one feature by name."""
        if name not in FEATURES:
            raise ValidationError(f"unknown feature {name!r}; known: {', '.join(FEATURES)}")
        return self.values[:, :, FEATURES.index(name)]

    def matrix(self) -> np.ndarray:
        """``(n_windows, n_sensors * len(FEATURES))``: one row per window, the sensors'
        features side by side (sensor-major), as a detector takes them."""
        return self.values.transpose(1, 0, 2).reshape(self.n_windows, -1)

    def select(self, windows: np.ndarray) -> WindowFeatures:
        """The same features for a subset of windows (a boolean mask or indices)."""
        return WindowFeatures(
            self.starts_us[windows], self.length_us, self.step_us,
            self.values[:, windows], self.counts[:, windows],
        )  # fmt: skip


def _seconds_to_us(name: str, seconds: float) -> int:
    if not (np.isfinite(seconds) and seconds > 0):
        raise ValidationError(f"{name} must be a positive number of seconds, got {seconds}")
    return int(round(seconds * 1e6))


def window_features(
    ts_us: np.ndarray,
    values: np.ndarray,
    sensor: np.ndarray,
    *,
    n_sensors: int,
    window_s: float,
    step_s: float,
    origin_us: int | None = None,
    end_us: int | None = None,
    min_samples: int = 3,
) -> WindowFeatures:
    """Features of every sensor over every whole window of the grid (see the module doc).

    ``sensor[i]`` in ``0..n_sensors-1`` names reading ``i``'s sensor. Non-finite values
    are left out; readings outside the windows are ignored."""
    ts = np.asarray(ts_us, dtype=np.int64)
    x = np.asarray(values, dtype=np.float64)
    code = np.asarray(sensor, dtype=np.int64)
    if not (ts.ndim == x.ndim == code.ndim == 1 and len(ts) == len(x) == len(code)):
        raise ValidationError("ts_us, values and sensor must be 1-D arrays of one length")
    if n_sensors < 1:
        raise ValidationError(f"n_sensors must be at least 1, got {n_sensors}")
    if len(code) and (code.min() < 0 or code.max() >= n_sensors):
        raise ValidationError(f"sensor codes must lie in 0..{n_sensors - 1}")
    if min_samples < 1:
        raise ValidationError(f"min_samples must be at least 1, got {min_samples}")
    length = _seconds_to_us("window_s", window_s)
    step = _seconds_to_us("step_s", step_s)
    keep = np.isfinite(x)
    if not keep.all():
        ts, x, code = ts[keep], x[keep], code[keep]
    if origin_us is None:
        origin_us = int(ts.min()) // step * step if len(ts) else 0
    if end_us is None:
        end_us = int(ts.max()) + 1 if len(ts) else origin_us
    n_windows = max(0, (end_us - origin_us - length) // step + 1)
    starts = origin_us + step * np.arange(n_windows, dtype=np.int64)
    out = np.full((n_sensors, n_windows, len(FEATURES)), np.nan)
    counts = np.zeros((n_sensors, n_windows), dtype=np.int64)
    if n_windows == 0 or len(ts) == 0:
        return WindowFeatures(starts, length, step, out, counts)

    # one sorted key: sensor-major, then time relative to the grid (span bounds the stride)
    rel = ts - origin_us
    span = max(int(rel.max()), end_us - origin_us) + 1
    lowest = min(int(rel.min()), 0)
    stride = span - lowest + 1
    if n_sensors * stride >= 2**62:
        raise ValidationError("too many sensors over too long a span for one call; split it")
    key = code * stride + (rel - lowest)
    if len(key) > 1 and np.any(key[1:] < key[:-1]):
        order = np.argsort(key, kind="stable")
        key, x, rel = key[order], x[order], rel[order]
    base = (np.arange(n_sensors, dtype=np.int64) * stride)[:, None] - lowest
    lo = np.searchsorted(key, base + (starts - origin_us)[None, :], side="left")
    hi = np.searchsorted(key, base + (starts - origin_us + length)[None, :], side="left")
    n = (hi - lo).ravel()
    counts[:] = n.reshape(n_sensors, n_windows)
    lo = lo.ravel()
    t_h = rel.astype(np.float64) / _US_PER_H
    flat = out.reshape(-1, len(FEATURES))
    rows = np.flatnonzero(n >= min_samples)
    if not len(rows):
        return WindowFeatures(starts, length, step, out, counts)
    # blocks of rows whose padded size stays under BLOCK_VALUES
    take = max(1, BLOCK_VALUES // int(n[rows].max()))
    for done in range(0, len(rows), take):
        block = rows[done : done + take]
        flat[block] = _reduce(x, t_h, lo[block], n[block], int(n[block].max()))
    return WindowFeatures(starts, length, step, out, counts)


def _reduce(x: np.ndarray, t: np.ndarray, lo: np.ndarray, n: np.ndarray, width: int) -> np.ndarray:
    """The features of windows ``[lo, lo + n)`` of ``x`` (times ``t``), each ``n >= 1``."""
    j = np.arange(width)
    mask = j[None, :] < n[:, None]
    idx = np.minimum(lo[:, None] + j[None, :], lo[:, None] + n[:, None] - 1)
    v = x[idx]  # padded with each window's last reading, masked out below
    nf = n.astype(np.float64)
    mean = np.where(mask, v, 0.0).sum(axis=1) / nf
    d = np.where(mask, v - mean[:, None], 0.0)
    d2 = d * d
    m2 = d2.sum(axis=1) / nf
    m4 = (d2 * d2).sum(axis=1) / nf
    rms = np.sqrt(mean * mean + m2)
    p2p = v.max(axis=1) - v.min(axis=1)  # padding repeats a real reading: no effect
    tv = t[idx]
    tmean = np.where(mask, tv, 0.0).sum(axis=1) / nf
    dt = np.where(mask, tv - tmean[:, None], 0.0)
    sxx = (dt * dt).sum(axis=1)
    sxy = (dt * d).sum(axis=1)
    # a window is constant when its spread is at rounding level of its magnitude
    flat = m2 <= (1e-12 * np.maximum(np.abs(mean), 1e-300)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kurt = np.where(flat, 0.0, m4 / (m2 * m2) - 3.0)
        slope = np.where(sxx > 0, sxy / sxx, 0.0)
    std = np.where(flat, 0.0, np.sqrt(m2))
    return np.stack([mean, std, rms, p2p, kurt, slope], axis=1)


def series_features(
    series: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    window_s: float,
    step_s: float,
    origin_us: int | None = None,
    end_us: int | None = None,
    min_samples: int = 3,
) -> WindowFeatures:
    """``window_features`` over one ``(ts_us, values)`` pair per sensor, in that order."""
    if not series:
        raise ValidationError("no sensor series given")
    for k, (t, v) in enumerate(series):
        if np.shape(t) != np.shape(v) or np.ndim(t) != 1:
            raise ValidationError(f"series {k}: timestamps and values differ in shape")
    ts = np.concatenate([np.asarray(t, dtype=np.int64) for t, _ in series])
    vals = np.concatenate([np.asarray(v, dtype=np.float64) for _, v in series])
    code = np.repeat(np.arange(len(series)), [len(t) for t, _ in series])
    return window_features(
        ts, vals, code, n_sensors=len(series), window_s=window_s, step_s=step_s,
        origin_us=origin_us, end_us=end_us, min_samples=min_samples,
    )  # fmt: skip
