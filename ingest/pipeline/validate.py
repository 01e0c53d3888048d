"""Validation of raw readings against the sensors registered in the graph.

Outcomes (each tested):

===========================================  ==========================================
input                                        outcome
===========================================  ==========================================
sensor not in the catalogue                  rejected "unknown sensor"
asset_id given and not the sensor's asset    rejected "asset mismatch"
unit given and not the sensor's unit         rejected "unit mismatch" (spellings such as
                                             ``degC``/``°C`` are equal)
value not a number (string, object)          rejected "non-numeric value"
value NaN or ±inf                            rejected "non-finite value"
integer beyond the float64 range (1e309)     rejected "non-finite value: beyond the
                                             float64 range"
value null                                   stored as quality missing (NaN) when the
                                             quality is missing or absent, else rejected
timestamp > now + max_future                 rejected "timestamp in the future"
timestamp < now - max_age (if set)           rejected "timestamp too old"
timestamp before 1970-01-01T00:00:00Z        rejected "timestamp before 1970-01-01"
                                             (the stores keep epoch-µs from 1970 on)
value outside [minValue, maxValue]           stored with quality bad (left out of reads
                                             unless include_bad)
same (sensor, timestamp) twice               stored once: last write wins
booleans                                     stored as 1.0 / 0.0 (digital inputs)
===========================================  ==========================================

An out-of-range value is bad whatever quality the device sent.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from operator import attrgetter

import numpy as np

from graph.model import Sensor
from graph.timeutil import to_us
from ingest.reading import Quality, RawReading
from ingest.store import ReadingBatch, RejectedRow, rejected_id

__all__ = ["ItemError", "LetterIds", "Validated", "normalise_unit", "raw_text", "validate"]

_UNIT_ALIASES = {
    "degC": "°C",
    "deg C": "°C",
    "℃": "°C",
    "celsius": "°C",
    "degF": "°F",
    "℉": "°F",
    "percent": "%",
    "pct": "%",
    "m3/h": "m³/h",
    "m^3/h": "m³/h",
}


def normalise_unit(unit: str) -> str:
    collapsed = " ".join(unit.split())
    return _UNIT_ALIASES.get(collapsed, collapsed)


@dataclass(frozen=True, slots=True)
class ItemError:
    index: int
    sensor_id: str | None
    reason: str
    code: str | None = None  # set when not a plain validation failure (FORBIDDEN)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "index": self.index,
            "sensor_id": self.sensor_id,
            "reason": self.reason,
        }
        if self.code is not None:
            out["code"] = self.code
        return out


@dataclass(slots=True)
class Validated:
    batch: ReadingBatch
    rejected: list[RejectedRow] = field(default_factory=list)
    errors: list[ItemError] = field(default_factory=list)


def raw_text(r: RawReading) -> str:
    if r.raw is not None:
        return r.raw
    return json.dumps(
        {
            "sensor_id": r.sensor_id,
            "value": r.value if isinstance(r.value, int | float | str | None) else repr(r.value),
            "timestamp": None if r.timestamp is None else r.timestamp.isoformat(),
            "asset_id": r.asset_id,
            "unit": r.unit,
            "quality": None if r.quality is None else str(r.quality),
            "source": r.source,
        },
        allow_nan=True,
    )


class LetterIds:
    """Dead-letter rows of one validation (object or columnar body) with ids from their content (``rejected_id``):
    the sensor, the raw text, the reason, the arrival time and the place among identical
    ones in this batch. A message delivered again carries its first arrival time, so its
    letters are stored once; two identical bad items of one body stay two letters."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, str, datetime], int] = {}

    def row(self, r: RawReading, sensor: Sensor | None, reason: str, now: datetime) -> RejectedRow:
        received, raw = r.received_at or now, raw_text(r)
        key = (r.sensor_id, raw, reason, received)
        k = self._seen[key] = self._seen.get(key, -1) + 1
        return RejectedRow(
            id=rejected_id("reading", r.source, *key[:3], received.isoformat(), k),
            received_at=received,
            sensor_id=r.sensor_id,
            asset_id=r.asset_id or (sensor.asset_id if sensor else ""),
            raw=raw,
            reason=reason,
        )


def _check(
    r: RawReading, sensor: Sensor | None, now_us: int, lo_us: int | None, hi_us: int
) -> tuple[int, float, Quality] | str:
    """(ts_us, value, quality) or a reason string.

    A reading whose payload the connector could not parse carries the parser's message
    (``metadata["error"]``): that is the reason, not what its placeholder value fails.
    """
    unreadable = r.metadata.get("error")
    if isinstance(unreadable, str) and unreadable:
        return unreadable
    if sensor is None:
        return "unknown sensor"
    if r.asset_id is not None and r.asset_id != sensor.asset_id:
        return f"asset mismatch: sensor {sensor.id} belongs to {sensor.asset_id}, not {r.asset_id}"
    if r.unit is not None and normalise_unit(r.unit) != normalise_unit(sensor.unit):
        return f"unit mismatch: sensor {sensor.id} reads {sensor.unit!r}, got {r.unit!r}"
    value = r.value
    quality = Quality(r.quality) if r.quality is not None else Quality.GOOD
    if value is None:
        if r.quality not in (None, Quality.MISSING):
            return f"null value needs quality missing, got {r.quality}"
        value, quality = math.nan, Quality.MISSING
    elif isinstance(value, bool):
        value = float(value)
    elif isinstance(value, int | float):
        try:
            value = float(value)
        except OverflowError:  # an int such as 10**400
            return "non-finite value: beyond the float64 range"
        if not math.isfinite(value):
            return "non-finite value"
    else:
        return f"non-numeric value {str(value)[:40]!r}"
    at = r.timestamp or r.received_at
    ts = now_us if at is None else to_us(at if at.tzinfo else at.replace(tzinfo=UTC))
    if ts < 0:
        return "timestamp before 1970-01-01"
    if ts > hi_us:
        return "timestamp in the future"
    if lo_us is not None and ts < lo_us:
        return "timestamp too old"
    return ts, value, quality


def _value(value: object, quality: Quality | None) -> tuple[float, Quality] | str:
    """One value and quality, or a reason string (the path of anything but plain numbers
    without a quality)."""
    q = Quality(quality) if quality is not None else Quality.GOOD
    if value is None:
        if quality not in (None, Quality.MISSING):
            return f"null value needs quality missing, got {quality}"
        return math.nan, Quality.MISSING
    if isinstance(value, bool):
        return float(value), q
    if isinstance(value, int | float):
        try:
            v = float(value)
        except OverflowError:  # an int such as 10**400
            return "non-finite value: beyond the float64 range"
        if not math.isfinite(v):
            return "non-finite value"
        return v, q
    return f"non-numeric value {str(value)[:40]!r}"


# one column per field: a map per field costs a tenth of transposing per-reading tuples
_FIELDS = tuple(
    attrgetter(name)
    for name in ("sensor_id", "value", "timestamp", "asset_id", "unit", "quality", "received_at")
)
_PLAIN = frozenset({float, int, bool})


def _epoch_us(ats: Sequence[datetime | None], now_us: int) -> np.ndarray:
    """Epoch microseconds of each time (naive means UTC, None means now), exact: whole
    seconds from ``timestamp()`` rounded after taking the microseconds off, microseconds
    as they are."""
    n = len(ats)
    try:
        tzs = list(map(_TZINFO, ats))
    except AttributeError:  # a None among them
        tzs = None
    if tzs is None or None in tzs:
        return np.fromiter(
            (now_us if at is None else to_us(at) for at in ats), dtype=np.int64, count=n
        )
    secs = np.fromiter(map(datetime.timestamp, ats), dtype=np.float64, count=n)  # type: ignore[arg-type]
    micros = np.fromiter(map(_MICROSECOND, ats), dtype=np.int64, count=n)
    return np.rint(secs - micros * 1e-6).astype(np.int64) * 1_000_000 + micros


_TZINFO = attrgetter("tzinfo")
_MICROSECOND = attrgetter("microsecond")


def validate(
    raws: Sequence[RawReading],
    sensors: Mapping[str, Sensor],
    now: datetime,
    *,
    max_future_us: int,
    max_age_us: int | None = None,
    index_offset: Sequence[int] | None = None,
) -> Validated:
    """Split ``raws`` into a columnar batch of accepted readings and rejected rows.
    ``index_offset`` maps positions in ``raws`` to positions reported in errors.

    Column by column: one pass reads the readings' fields, every check is an array
    operation, and only the readings that fail (or carry a unit, a null or a
    non-number) are looked at one by one. The first failing check in the table's order
    gives a reading's reason."""
    n = len(raws)
    if n <= _SMALL:
        return _validate_small(raws, sensors, now, max_future_us, max_age_us, index_offset)
    out = Validated(ReadingBatch.empty())
    now_us = to_us(now)
    hi_us = now_us + max_future_us
    sids, values, stamps, given_assets, units, qualities, received = (
        list(map(field, raws)) for field in _FIELDS
    )
    # the sensors of the batch as a small table, each reading a code into it (-1: unknown)
    code: dict[str, int] = {}
    table: list[Sensor] = []
    for sid in dict.fromkeys(sids):
        sensor = sensors.get(sid)
        if sensor is not None:
            code[sid] = len(table)
            table.append(sensor)
    codes = np.fromiter(map(code.get, sids, repeat(-1)), dtype=np.int64, count=n)
    bad: dict[int, str] = {}
    known = codes >= 0
    for i in np.flatnonzero(~known).tolist():
        bad[i] = "unknown sensor"
    t_ids = np.array([s.id for s in table] + [""], dtype=object)  # [-1]: unknown
    t_assets = np.array([s.asset_id for s in table] + [""], dtype=object)
    if given_assets.count(None) != n:
        given = np.array(given_assets, dtype=object)
        wrong = known & (given != None) & (given != t_assets[codes])  # noqa: E711
        for i in np.flatnonzero(wrong).tolist():
            sensor = table[codes[i]]
            bad[i] = (
                f"asset mismatch: sensor {sensor.id} belongs to {sensor.asset_id}, "
                f"not {given_assets[i]}"
            )
    if units.count(None) != n:
        for i, unit in enumerate(units):
            if unit is None or i in bad:
                continue
            sensor = table[codes[i]]
            if normalise_unit(unit) != normalise_unit(sensor.unit):
                bad[i] = f"unit mismatch: sensor {sensor.id} reads {sensor.unit!r}, got {unit!r}"
    # values: plain numbers in one conversion; nulls and non-numbers one by one
    v: np.ndarray | None = None
    if set(map(type, values)) <= _PLAIN:
        try:
            v = np.fromiter(values, dtype=np.float64, count=n)
        except OverflowError:  # an int beyond float64: the careful path says which
            v = None
    if v is not None:
        for i in np.flatnonzero(~np.isfinite(v)).tolist():
            bad.setdefault(i, "non-finite value")
        if qualities.count(None) == n:
            q = np.full(n, Quality.GOOD.value, dtype=object)
        else:
            q = np.array(
                [Quality.GOOD.value if x is None else Quality(x).value for x in qualities],
                dtype=object,
            )
    else:
        v = np.full(n, math.nan)
        q = np.full(n, Quality.GOOD.value, dtype=object)
        for i, (value, quality) in enumerate(zip(values, qualities, strict=True)):
            if i in bad:
                continue
            verdict = _value(value, quality)
            if isinstance(verdict, str):
                bad[i] = verdict
            else:
                v[i], q[i] = verdict[0], verdict[1].value
    ats = (
        stamps
        if stamps.count(None) == 0
        else [s or r for s, r in zip(stamps, received, strict=True)]
    )
    ts = _epoch_us(ats, now_us)
    for i in np.flatnonzero(ts < 0).tolist():
        bad.setdefault(i, "timestamp before 1970-01-01")
    for i in np.flatnonzero(ts > hi_us).tolist():
        bad.setdefault(i, "timestamp in the future")
    if max_age_us is not None:
        for i in np.flatnonzero(ts < now_us - max_age_us).tolist():
            bad.setdefault(i, "timestamp too old")
    ok = np.ones(n, dtype=bool)
    ids = LetterIds()
    for i in sorted(bad):
        ok[i] = False
        r = raws[i]
        sensor = table[codes[i]] if codes[i] >= 0 else None
        reason = bad[i]
        index = i if index_offset is None else index_offset[i]
        out.errors.append(ItemError(index, r.sensor_id, reason))
        out.rejected.append(ids.row(r, sensor, reason, now))
    if not ok.any():
        return out
    if bad:
        codes, ts, v, q = codes[ok], ts[ok], v[ok], q[ok]
    lows = np.array([-math.inf if s.min_value is None else s.min_value for s in table] + [0.0])
    highs = np.array([math.inf if s.max_value is None else s.max_value for s in table] + [0.0])
    out_of_range = (v < lows[codes]) | (v > highs[codes])  # NaN compares False
    q[out_of_range] = Quality.BAD.value
    out.batch = ReadingBatch(
        ts=ts, sensor_id=t_ids[codes], asset_id=t_assets[codes], value=v, quality=q
    )
    return out


# Up to this many readings, one by one costs less than the fixed cost of array steps
# (an MQTT message of one reading is validated at every arrival).
_SMALL = 16


def _validate_small(
    raws: Sequence[RawReading],
    sensors: Mapping[str, Sensor],
    now: datetime,
    max_future_us: int,
    max_age_us: int | None,
    index_offset: Sequence[int] | None,
) -> Validated:
    """``validate`` reading by reading (the same outcomes, for small batches)."""
    now_us = to_us(now)
    hi_us = now_us + max_future_us
    lo_us = None if max_age_us is None else now_us - max_age_us
    ts: list[int] = []
    values: list[float] = []
    quality: list[str] = []
    sids: list[str] = []
    aids: list[str] = []
    lows: list[float] = []
    highs: list[float] = []
    out = Validated(ReadingBatch.empty())
    ids = LetterIds()
    for i, r in enumerate(raws):
        sensor = sensors.get(r.sensor_id)
        verdict = _check(r, sensor, now_us, lo_us, hi_us)
        if isinstance(verdict, str):
            index = i if index_offset is None else index_offset[i]
            out.errors.append(ItemError(index, r.sensor_id, verdict))
            out.rejected.append(ids.row(r, sensor, verdict, now))
            continue
        assert sensor is not None
        ts.append(verdict[0])
        values.append(verdict[1])
        quality.append(verdict[2].value)
        sids.append(sensor.id)
        aids.append(sensor.asset_id)
        lows.append(-math.inf if sensor.min_value is None else sensor.min_value)
        highs.append(math.inf if sensor.max_value is None else sensor.max_value)
    if ts:
        v = np.asarray(values, dtype=np.float64)
        q = np.asarray(quality, dtype=object)
        out_of_range = (v < np.asarray(lows)) | (v > np.asarray(highs))  # NaN compares False
        q[out_of_range] = Quality.BAD.value
        out.batch = ReadingBatch.from_columns(ts, sids, aids, v, q)
    return out
