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
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from graph.model import Sensor
from graph.timeutil import to_us
from ingest.reading import Quality, RawReading
from ingest.store import ReadingBatch, RejectedRow

__all__ = ["ItemError", "Validated", "normalise_unit", "raw_text", "validate"]

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
    ``index_offset`` maps positions in ``raws`` to positions reported in errors."""
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
    for i, r in enumerate(raws):
        sensor = sensors.get(r.sensor_id)
        verdict = _check(r, sensor, now_us, lo_us, hi_us)
        if isinstance(verdict, str):
            index = i if index_offset is None else index_offset[i]
            out.errors.append(ItemError(index, r.sensor_id, verdict))
            out.rejected.append(
                RejectedRow(
                    id=secrets.randbits(63),
                    received_at=r.received_at or now,
                    sensor_id=r.sensor_id,
                    asset_id=r.asset_id or (sensor.asset_id if sensor else ""),
                    raw=raw_text(r),
                    reason=verdict,
                )
            )
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
