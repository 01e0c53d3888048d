"""Readings as columns: a gateway's or a backfill's batch without an object per reading.

The columnar body of ``POST /ingest`` is one JSON object of equal-length arrays, the
shape ``readings`` answers with::

    {"sensor_id": ["pt-1", "pt-2"], "value": [4.2, null],
     "timestamp": ["2026-01-05T08:00:00Z", 1767600000000], "quality": ["good", "missing"]}

``sensor_id`` and ``value`` are required; ``timestamp`` (RFC 3339 with an offset, or
epoch milliseconds; absent or null: the receive time) and ``quality`` are optional. Each
position is one reading and is judged like the same reading sent as an object (the
outcomes of ``ingest.pipeline.validate``: unknown sensor, non-numeric or non-finite
value, null needs quality missing, timestamp before 1970, in the future or too old,
out-of-range values stored as bad); errors carry the position as their index, and the
refused readings are kept as dead letters with the reading as JSON.

Speed: ``parse_columns`` converts whole arrays (numbers, epoch milliseconds) in one step
and only looks at elements one by one where an array mixes types; ``validate_columns``
is array operations over integer sensor codes. Pure.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from graph.errors import ValidationError
from graph.model import Sensor, check_id
from graph.timeutil import from_us, to_us
from ingest.pipeline.stamps import parse_stamp
from ingest.pipeline.validate import ItemError, LetterIds, Validated
from ingest.reading import Quality, RawReading
from ingest.store import ReadingBatch

__all__ = ["COLUMN_FIELDS", "Columns", "is_columnar", "parse_columns", "validate_columns"]

COLUMN_FIELDS = frozenset({"sensor_id", "value", "timestamp", "quality"})
_QUALITIES = {q.value: q.value for q in Quality}
_PLAIN = frozenset({float, int})
_MAX_MS = 9_200_000_000_000_000  # epoch milliseconds whose microseconds fit in int64


@dataclass(frozen=True, slots=True)
class Columns:
    """Parsed columns of equal length ``n``: ``ts_us`` -1 where the receive time applies
    (``received_us``), ``value`` NaN where null (``null`` True), ``quality`` None where
    absent. ``index``: each position's place in the body (positions that failed to parse
    are left out and reported as errors)."""

    sensor_id: list[str]
    value: np.ndarray
    null: np.ndarray
    ts_us: np.ndarray
    quality: list[str | None]
    index: np.ndarray
    received_us: int
    problem: dict[int, str] = field(default_factory=dict)  # position: its value's fault

    def __len__(self) -> int:
        return len(self.sensor_id)

    def take(self, idx: np.ndarray) -> Columns:
        """The positions ``idx`` (integer indices into these columns)."""
        at = idx.tolist()
        return Columns(
            sensor_id=[self.sensor_id[i] for i in at],
            value=self.value[idx],
            null=self.null[idx],
            ts_us=self.ts_us[idx],
            quality=[self.quality[i] for i in at],
            index=self.index[idx],
            received_us=self.received_us,
            problem={k: self.problem[i] for k, i in enumerate(at) if i in self.problem},
        )

    def raw(self, i: int) -> str:
        """Position ``i`` as a reading object (the raw text of its dead letter)."""
        ts = int(self.ts_us[i])
        return json.dumps(
            {
                "sensor_id": self.sensor_id[i],
                "value": None if self.null[i] else float(self.value[i]),
                "timestamp": None if ts == -1 else _iso(ts),
                "quality": self.quality[i],
            }
        )


def _iso(us: int) -> str:
    try:
        return from_us(us).isoformat()
    except (OverflowError, ValueError, OSError):
        return str(us)


def is_columnar(doc: object) -> bool:
    """A JSON object whose ``sensor_id`` is an array: the columnar body."""
    return isinstance(doc, dict) and isinstance(doc.get("sensor_id"), list)


def _array(doc: dict[str, object], key: str, n: int) -> list[object] | None:
    col = doc.get(key)
    if col is None:
        return None
    if not isinstance(col, list):
        raise ValidationError(f"columnar body: {key} must be an array")
    if len(col) != n:
        raise ValidationError(
            f"columnar body: {key} has {len(col)} elements, sensor_id has {n}: "
            "every array needs one element per reading"
        )
    return col


def _ts_one(value: object) -> int:
    """Epoch µs of one timestamp element, -1 for null; ValidationError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= _MAX_MS:
        return value * 1000
    at = parse_stamp(value)
    return -1 if at is None else to_us(at)


def parse_columns(
    doc: dict[str, object], *, received_at: datetime, max_items: int
) -> tuple[Columns, list[ItemError], list[str]]:
    """The columns of a columnar body, the errors of the positions that cannot be
    readings and their raw text. A body that is not columns as described (an unknown
    key, arrays of different lengths, more than ``max_items``) raises ValidationError."""
    unknown = sorted(set(doc) - COLUMN_FIELDS)
    if unknown:
        raise ValidationError(f"columnar body: unknown field(s) {', '.join(unknown)}")
    sids = doc["sensor_id"]
    assert isinstance(sids, list)
    n = len(sids)
    if n > max_items:
        raise ValidationError(f"columnar body holds {n} readings, more than {max_items}")
    values = _array(doc, "value", n)
    if values is None:
        raise ValidationError("columnar body: value is required (null for a missing value)")
    stamps = _array(doc, "timestamp", n)
    qualities = _array(doc, "quality", n)
    bad: dict[int, str] = {}  # refused as parse_item refuses an object: at parse time
    later: dict[int, str] = {}  # value problems, judged after the sensor, as validate does
    for i, sid in enumerate(sids):
        try:
            check_id(sid, "sensor_id")
        except ValidationError as exc:
            bad[i] = exc.message
    for i, x in enumerate(values):
        if isinstance(x, list | dict):
            bad.setdefault(i, "value must be a number or null")
    quality: list[str | None] = [None] * n
    if qualities is not None:
        for i, x in enumerate(qualities):
            if x is None:
                continue
            q = _QUALITIES.get(x) if isinstance(x, str) else None
            if q is None:
                bad.setdefault(i, "quality must be one of good, suspect, bad, missing")
            else:
                quality[i] = q
    # timestamps: epoch milliseconds in one conversion, anything else one by one
    ts = np.full(n, -1, dtype=np.int64)
    if stamps is not None:
        ints = set(map(type, stamps)) <= {int}
        if ints and -_MAX_MS <= min(stamps, default=0) and max(stamps, default=0) <= _MAX_MS:  # type: ignore[type-var, operator]
            ts = np.asarray(stamps, dtype=np.int64) * 1000
        else:
            for i, x in enumerate(stamps):
                try:
                    ts[i] = _ts_one(x)
                except ValidationError as exc:
                    bad.setdefault(i, exc.message)
    # values: numbers in one conversion; nulls, booleans and others one by one
    null = np.zeros(n, dtype=bool)
    v: np.ndarray | None = None
    if set(map(type, values)) <= _PLAIN:
        try:
            v = np.fromiter(values, dtype=np.float64, count=n)
        except OverflowError:  # an int beyond float64: one by one says which
            v = None
    if v is None:
        v = np.full(n, math.nan)
        for i, x in enumerate(values):
            if x is None:
                null[i] = True
                if quality[i] not in (None, Quality.MISSING.value):
                    later[i] = f"null value needs quality missing, got {quality[i]}"
            elif isinstance(x, bool | int | float):
                try:
                    v[i] = float(x)
                except OverflowError:
                    later[i] = "non-finite value: beyond the float64 range"
            elif not isinstance(x, list | dict):
                later[i] = f"non-numeric value {str(x)[:40]!r}"
    for i in np.flatnonzero(~np.isfinite(v) & ~null).tolist():
        later.setdefault(i, "non-finite value")
    errors, raws = [], []
    for i in sorted(bad):
        errors.append(ItemError(i, sids[i] if isinstance(sids[i], str) else None, bad[i]))
        raws.append(
            json.dumps(
                {
                    "sensor_id": sids[i],
                    "value": values[i],
                    "timestamp": None if stamps is None else stamps[i],
                    "quality": None if qualities is None else qualities[i],
                },
                default=str,
            )
        )
    keep = np.ones(n, dtype=bool)
    keep[list(bad)] = False
    idx = np.flatnonzero(keep)
    cols = Columns(
        sensor_id=[sids[i] for i in idx.tolist()] if bad else list(sids),
        value=v[idx],
        null=null[idx],
        ts_us=ts[idx],
        quality=[quality[i] for i in idx.tolist()] if bad else quality,
        index=idx,
        received_us=to_us(received_at),
        problem={k: later[int(i)] for k, i in enumerate(idx.tolist()) if int(i) in later}
        if later
        else {},
    )
    return cols, errors, raws


def validate_columns(
    cols: Columns,
    sensors: Mapping[str, Sensor],
    now: datetime,
    *,
    max_future_us: int,
    max_age_us: int | None = None,
    source: str = "http",
) -> Validated:
    """``validate`` for columns: the accepted readings as a batch, the refused ones as
    errors (with their body position) and dead-letter rows."""
    n = len(cols)
    out = Validated(ReadingBatch.empty())
    if not n:
        return out
    now_us = to_us(now)
    code: dict[str, int] = {}
    table: list[Sensor] = []
    for sid in dict.fromkeys(cols.sensor_id):
        sensor = sensors.get(sid)
        if sensor is not None:
            code[sid] = len(table)
            table.append(sensor)
    codes = np.fromiter(map(code.get, cols.sensor_id, [-1] * n), dtype=np.int64, count=n)
    ts = np.where(cols.ts_us == -1, cols.received_us, cols.ts_us)
    hi_us = now_us + max_future_us
    lo_us = None if max_age_us is None else now_us - max_age_us
    failed = (codes < 0) | (ts < 0) | (ts > hi_us)
    if lo_us is not None:
        failed |= ts < lo_us
    if cols.problem:
        failed[list(cols.problem)] = True
    letters = LetterIds()
    received = from_us(cols.received_us)
    for i in np.flatnonzero(failed).tolist():  # the first failing check gives the reason
        at_us = int(ts[i])
        why = (
            "unknown sensor"
            if codes[i] < 0
            else cols.problem[i]
            if i in cols.problem
            else "timestamp before 1970-01-01"
            if at_us < 0
            else "timestamp in the future"
            if at_us > hi_us
            else "timestamp too old"
        )
        sid = cols.sensor_id[i]
        sensor = table[codes[i]] if codes[i] >= 0 else None
        out.errors.append(ItemError(int(cols.index[i]), sid, why))
        reading = RawReading(sid, None, source=source, received_at=received, raw=cols.raw(i))
        out.rejected.append(letters.row(reading, sensor, why, now))
    ok = ~failed
    if not ok.any():
        return out
    c, t, v = codes[ok], ts[ok], cols.value[ok]
    if cols.quality.count(None) == n:
        q = np.full(len(c), Quality.GOOD.value, dtype=object)
    else:
        q = np.array(cols.quality, dtype=object)[ok]
        q[q == None] = Quality.GOOD.value  # noqa: E711 - elementwise
    q[cols.null[ok]] = Quality.MISSING.value
    lows = np.array([-math.inf if s.min_value is None else s.min_value for s in table])
    highs = np.array([math.inf if s.max_value is None else s.max_value for s in table])
    q[(v < lows[c]) | (v > highs[c])] = Quality.BAD.value  # NaN compares False
    t_ids = np.array([s.id for s in table], dtype=object)
    t_assets = np.array([s.asset_id for s in table], dtype=object)
    out.batch = ReadingBatch(ts=t, sensor_id=t_ids[c], asset_id=t_assets[c], value=v, quality=q)
    return out
