"""Overall equipment effectiveness (OEE) of stations and lines over a time window.

Contract: ``station_oee(...) -> StationOee`` from a station's state samples and its
cumulative counters; ``line_oee(line_id, stations) -> LineOee`` from its stations'
results in flow order. Times are seconds (float, any epoch) shared by every input.

**States.** Each state sample holds until the next one, but for at most ``max_gap_s``:
beyond that (a gap in the data) the state is *unknown*. ``StateCodes`` maps the codes a
station publishes to categories; the default is the demo line's (``api/demo/line.py``:
0 idle, 1 running, 2 blocked, 3 failed = down; there, idle past the first station means
waiting for parts, so ``StateCodes(idle=(), starved=(0,))`` names it so for those
stations). Codes not mapped, and non-finite samples, are unknown too.

**Counters** (total, and optionally good or rejected parts) are cumulative. A drop
between two samples is a reset to zero (the new value is what was made since), or, with
``rollover`` (e.g. 65536 for a 16-bit register), a wrap. Increments between two samples
are spread evenly over the time between them; samples more than ``max_gap_s`` apart
leave the time between them unknown. Non-finite counter samples are dropped; counters must be polled (at least every
``max_gap_s``), not published on change only. Parts
made before a reset that no sample saw are lost (``counter_resets`` says how many
resets there were).

**Known time** is where the state and every given counter are known, inside
``[start, end)``; the rest is ``unknown_s``, left out of the figures (time and parts
alike, so a gap biases no ratio). Of the known time, ``planned_stop`` states are left
out too; what remains is the planned production time, and:

- availability = operating / planned, operating = planned - down - setup;
- performance = total parts x ideal cycle time / operating;
- quality = good / total (good from a good counter, or total - rejects; with neither,
  every part counts as good and ``quality_measured`` is False);
- OEE = A x P x Q = good x ideal cycle / planned.

The losses (``Loss``: seconds and their equivalent in parts, seconds / ideal cycle)
follow the six big losses: *availability*: breakdowns (down), setup; *performance*:
idling and minor stops, split into idle, blocked and starved, and reduced speed
(running time - total x ideal cycle; negative when cycles beat the ideal); *quality*:
defects (rejects x ideal cycle; start-up rejects cannot be told apart from these without
a start-up signal). Planned time = good x ideal cycle + the sum of the losses.

**Line OEE** is output-based: the good parts leaving the last station times the line's
ideal cycle time (the slowest station's, the line's design rate), over the last station's
planned time. Its availability is the bottleneck's (the station with that slowest ideal
cycle), its quality the product of the stations' qualities (the share of parts that
pass every station), its performance the remainder, OEE / (A x Q): rate losses, minor
stops, and the blocking and starving the buffers did not absorb.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from graph.errors import ValidationError

__all__ = [
    "CATEGORIES",
    "DEMO_CODES",
    "LineOee",
    "Loss",
    "Series",
    "StateCodes",
    "StationOee",
    "line_oee",
    "station_oee",
]

CATEGORIES = ("running", "idle", "blocked", "starved", "down", "setup", "planned_stop")
_RUN, _IDLE, _BLOCKED, _STARVED, _DOWN, _SETUP, _PLANNED = range(len(CATEGORIES))


@dataclass(frozen=True, slots=True)
class StateCodes:
    """Which published state codes mean which category (a code in one category only)."""

    running: tuple[int, ...] = (1,)
    idle: tuple[int, ...] = (0,)
    blocked: tuple[int, ...] = (2,)
    starved: tuple[int, ...] = ()
    down: tuple[int, ...] = (3,)
    setup: tuple[int, ...] = ()
    planned_stop: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        seen: set[int] = set()
        for name in CATEGORIES:
            codes = tuple(getattr(self, name))
            if any(isinstance(c, bool) or not isinstance(c, int) for c in codes):
                raise ValidationError(f"state codes of {name} must be integers", path=name)
            if seen & set(codes):
                raise ValidationError(f"state code in two categories: {name}", path=name)
            seen |= set(codes)
            object.__setattr__(self, name, codes)

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Category index per value; -1 where the value is no mapped integer code."""
        out = np.full(values.shape, -1, dtype=np.int64)
        whole = np.isfinite(values) & (values == np.round(values))
        for i, name in enumerate(CATEGORIES):
            for code in getattr(self, name):
                out[whole & (values == code)] = i
        return out


DEMO_CODES = StateCodes()


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """Samples: ``times`` (s, strictly increasing) and ``values``, same length."""

    times: npt.ArrayLike
    values: npt.ArrayLike

    def __post_init__(self) -> None:
        t = np.asarray(self.times, dtype=float)
        v = np.asarray(self.values, dtype=float)
        if t.ndim != 1 or t.shape != v.shape:
            raise ValidationError(
                f"times and values must be 1-D of one length: {t.shape}, {v.shape}"
            )
        if not np.all(np.isfinite(t)):
            raise ValidationError("sample times must be finite")
        if np.any(np.diff(t) <= 0):
            raise ValidationError("sample times must be strictly increasing")
        object.__setattr__(self, "times", t)
        object.__setattr__(self, "values", v)

    @property
    def t(self) -> np.ndarray:
        return np.asarray(self.times)

    @property
    def v(self) -> np.ndarray:
        return np.asarray(self.values)


@dataclass(frozen=True, slots=True)
class Loss:
    """One loss: ``kind`` availability, performance or quality; seconds and parts."""

    name: str
    kind: str
    seconds: float
    parts: float


@dataclass(frozen=True, slots=True)
class StationOee:
    """A station's OEE over ``[start, end)``. Ratios are None where their denominator is
    zero (no planned time, no operating time, no parts)."""

    station_id: str
    start: float
    end: float
    ideal_cycle_s: float
    unknown_s: float
    planned_stop_s: float
    planned_s: float
    operating_s: float
    running_s: float
    total_count: float
    good_count: float
    quality_measured: bool
    counter_resets: int
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    losses: tuple[Loss, ...]
    state_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LineOee:
    """A line's output-based OEE (see the module docstring), with its losses."""

    line_id: str
    stations: tuple[StationOee, ...]
    bottleneck_id: str
    ideal_cycle_s: float
    planned_s: float
    good_count: float
    availability: float | None
    performance: float | None
    quality: float | None
    oee: float | None
    losses: tuple[Loss, ...]


def _increments(values: np.ndarray, rollover: float | None) -> tuple[np.ndarray, int]:
    d = np.diff(values)
    drop = d < 0
    if rollover is None:
        d[drop] = values[1:][drop]
    else:
        d[drop] += rollover
    return d, int(drop.sum())


class _Counter:
    """A cumulative counter, reset-corrected, finite samples only."""

    def __init__(self, series: Series, rollover: float | None, max_gap_s: float) -> None:
        ok = np.isfinite(series.v)
        self.t = series.t[ok]
        self.d, self.resets = _increments(series.v[ok], rollover)
        if rollover is not None and np.any(self.d >= rollover):
            raise ValidationError("a counter step is at least the rollover")
        self.max_gap = max_gap_s

    def credit(self, mid: np.ndarray, dur: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per elementary interval: known? and the parts made in it."""
        if self.t.size < 2:
            return np.zeros(mid.shape, dtype=bool), np.zeros(mid.shape)
        k = np.searchsorted(self.t, mid, side="right") - 1
        kk = np.clip(k, 0, self.t.size - 2)
        span = self.t[kk + 1] - self.t[kk]
        known = (k >= 0) & (k < self.t.size - 1) & (span <= self.max_gap)
        return known, np.where(known, self.d[kk] * dur / span, 0.0)


def _state_at(st: np.ndarray, cat: np.ndarray, max_gap: float, mid: np.ndarray) -> np.ndarray:
    """Category at each time ``mid``: the last sample's, for up to ``max_gap``; else -1."""
    if st.size == 0:
        return np.full(mid.shape, -1, dtype=np.int64)
    seg_end = np.minimum(np.append(st[1:], np.inf), st + max_gap)
    i = np.searchsorted(st, mid, side="right") - 1
    ii = np.clip(i, 0, st.size - 1)
    return np.where((i >= 0) & (mid < seg_end[ii]), cat[ii], -1)


def _check_window(start: float, end: float, ideal: float, max_gap: float) -> None:
    if not (math.isfinite(start) and math.isfinite(end) and end > start):
        raise ValidationError("the window needs finite start < end", path="end")
    if not (math.isfinite(ideal) and ideal > 0):
        raise ValidationError("ideal_cycle_s must be a positive number", path="ideal_cycle_s")
    if not (math.isfinite(max_gap) and max_gap > 0):
        raise ValidationError("max_gap_s must be a positive number", path="max_gap_s")


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def station_oee(
    station_id: str,
    ideal_cycle_s: float,
    states: Series,
    total: Series,
    *,
    start: float,
    end: float,
    good: Series | None = None,
    rejects: Series | None = None,
    codes: StateCodes = DEMO_CODES,
    max_gap_s: float = 300.0,
    rollover: float | None = None,
) -> StationOee:
    """OEE of one station over ``[start, end)`` (see the module docstring)."""
    _check_window(start, end, ideal_cycle_s, max_gap_s)
    if good is not None and rejects is not None:
        raise ValidationError("give a good counter or a reject counter, not both")
    if rollover is not None and not (math.isfinite(rollover) and rollover > 0):
        raise ValidationError("rollover must be a positive number", path="rollover")
    counters = [_Counter(c, rollover, max_gap_s) for c in (total, good, rejects) if c is not None]
    st = states.t
    seg_end = np.minimum(st + max_gap_s, end)
    points = np.concatenate([st, seg_end, *(c.t for c in counters), [start, end]])
    points = np.unique(np.clip(points, start, end))
    dur = np.diff(points)
    mid = (points[:-1] + points[1:]) / 2
    mid_cat = _state_at(st, codes.lookup(states.v), max_gap_s, mid)
    known = mid_cat >= 0
    credits = []
    for c in counters:
        c_known, parts = c.credit(mid, dur)
        known &= c_known
        credits.append(parts)
    secs = np.bincount(mid_cat[known], weights=dur[known], minlength=len(CATEGORIES))
    counted = [float(p[known].sum()) for p in credits]
    total_n = counted[0]
    good_n = total_n
    if good is not None:
        good_n = counted[1]
    elif rejects is not None:
        good_n = total_n - counted[1]
    unknown = float(dur[~known].sum())
    planned = float(secs.sum() - secs[_PLANNED])
    operating = planned - float(secs[_DOWN] + secs[_SETUP])
    ideal = ideal_cycle_s
    speed = float(secs[_RUN]) - total_n * ideal
    rows = (
        ("breakdowns", "availability", float(secs[_DOWN])),
        ("setup", "availability", float(secs[_SETUP])),
        ("idle", "performance", float(secs[_IDLE])),
        ("blocked", "performance", float(secs[_BLOCKED])),
        ("starved", "performance", float(secs[_STARVED])),
        ("reduced_speed", "performance", speed),
        ("defects", "quality", (total_n - good_n) * ideal),
    )
    return StationOee(
        station_id=station_id,
        start=float(start),
        end=float(end),
        ideal_cycle_s=float(ideal),
        unknown_s=unknown,
        planned_stop_s=float(secs[_PLANNED]),
        planned_s=planned,
        operating_s=operating,
        running_s=float(secs[_RUN]),
        total_count=total_n,
        good_count=good_n,
        quality_measured=good is not None or rejects is not None,
        counter_resets=sum(c.resets for c in counters),
        availability=_ratio(operating, planned),
        performance=_ratio(total_n * ideal, operating),
        quality=_ratio(good_n, total_n),
        oee=_ratio(good_n * ideal, planned),
        losses=tuple(Loss(n, k, s, s / ideal) for n, k, s in rows),
        state_seconds={name: float(secs[j]) for j, name in enumerate(CATEGORIES)},
    )


def line_oee(line_id: str, stations: Sequence[StationOee]) -> LineOee:
    """Output-based OEE of a serial line; ``stations`` in flow order, one window."""
    stations = tuple(stations)
    if not stations:
        raise ValidationError("a line needs at least one station", path="stations")
    if len({(s.start, s.end) for s in stations}) != 1:
        raise ValidationError("the stations' windows differ", path="stations")
    last = stations[-1]
    neck = max(stations, key=lambda s: s.ideal_cycle_s)
    ideal = neck.ideal_cycle_s
    quality = 1.0
    for s in stations:
        if s.quality is None:
            quality = math.nan
            break
        quality *= s.quality
    q = None if math.isnan(quality) else quality
    oee = _ratio(last.good_count * ideal, last.planned_s)
    a = neck.availability
    perf = oee / (a * q) if oee is not None and a and q else None
    losses: tuple[Loss, ...] = ()
    if oee is not None and a is not None and q is not None and perf is not None:
        p_time = last.planned_s
        rows = (
            ("availability", p_time * (1 - a)),
            ("performance", p_time * a * (1 - perf)),
            ("quality", p_time * a * perf * (1 - q)),
        )
        losses = tuple(Loss(k, k, s, s / ideal) for k, s in rows)
    return LineOee(
        line_id=line_id,
        stations=stations,
        bottleneck_id=neck.station_id,
        ideal_cycle_s=ideal,
        planned_s=last.planned_s,
        good_count=last.good_count,
        availability=a,
        performance=perf,
        quality=q,
        oee=oee,
        losses=losses,
    )
