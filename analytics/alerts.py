"""Alert rules over batches of readings: limits and warning bands, with hysteresis.

Pure: numpy arrays and dataclasses in, ``AlertEvent`` objects out; no driver, no socket.
The caller (the api layer's alert service) feeds each accepted batch to
``AlertEvaluator.evaluate`` and stores and publishes what comes back.

Rules, per sensor, from its registered limits (``minValue``/``maxValue`` in the graph):

==========  ==============================================  ============================
rule        raises when a reading is                        severity
==========  ==============================================  ============================
``limit``   above ``max`` or below ``min`` (quality bad)    critical when the peak of
                                                            the run is ``critical_fraction``
                                                            of the span beyond, else warning
``warning`` above the sensor's ``warnHigh`` or below its      warning
            ``warnLow`` (its registered alarm levels)
==========  ==============================================  ============================

Warning levels are engineered, not guessed: a sensor without registered alarm levels
gets no warning alert (a band inferred from the measuring range would flood operators:
CO2 at 450 ppm on a 0..5000 ppm transmitter is healthy, yet sits in its bottom tenth).
``AlertRules.warning_fraction`` opts in to such an inferred band, ``min + (1 - f) *
span`` .. ``min + f * span``, for sensors that have both limits and no levels.

A rule raises only when its condition persists for ``min_readings`` consecutive
readings spanning at least ``min_duration_s``; it clears once the values are back
inside the threshold minus the hysteresis (``hysteresis_fraction`` of the span) for as
long. Readings in the hysteresis zone keep an alert as it is, so noise around a
threshold never flaps. The warning band needs both limits; the limit rule works with
either one (hysteresis 0 then). Missing values (NaN) and readings no newer than the
last one seen for the sensor are ignored.

The state machine is a scan per (sensor, rule); it is evaluated in rounds, each round
vectorised over the whole batch: a round finds, for every sensor at once, the first
reading where its rule changes state. A batch costs one round plus one per change.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

import numpy as np

from graph.errors import ValidationError
from graph.model import Sensor

__all__ = [
    "AlertEvent",
    "AlertEvaluator",
    "AlertRules",
    "AlertStateStore",
    "EventKind",
    "ReadingColumns",
    "Rule",
    "RuleState",
    "Severity",
    "active_sensors",
    "new_alert_id",
]


class Rule(StrEnum):
    LIMIT = "limit"
    WARNING = "warning"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class EventKind(StrEnum):
    RAISED = "raised"
    CLEARED = "cleared"


def new_alert_id() -> str:
    return f"alert-{uuid.uuid4().hex}"


class ReadingColumns(Protocol):
    """Parallel columns of readings (``ingest.store.ReadingBatch`` fits)."""

    ts: np.ndarray  # int64 epoch microseconds
    sensor_id: np.ndarray  # object (str)
    asset_id: np.ndarray  # object (str)
    value: np.ndarray  # float64, NaN when missing


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Tuning of the rules (defaults suit a noisy industrial signal)."""

    warning_fraction: float | None = None  # opt-in band for sensors without levels
    hysteresis_fraction: float = 0.02
    min_readings: int = 3
    min_duration_s: float = 0.0
    critical_fraction: float = 0.1
    rules: tuple[Rule, ...] = (Rule.LIMIT, Rule.WARNING)

    def __post_init__(self) -> None:
        f = self.warning_fraction
        if f is not None and not 0.5 < f < 1.0:
            raise ValidationError("warning_fraction must be unset or lie in (0.5, 1)")
        if not 0.0 <= self.hysteresis_fraction < (0.5 if f is None else 1.0 - f):
            raise ValidationError(
                "hysteresis_fraction must lie in [0, 1 - warning_fraction) (0.5 when unset)"
            )
        if isinstance(self.min_readings, bool) or self.min_readings < 1:
            raise ValidationError("min_readings must be at least 1")
        if not (math.isfinite(self.min_duration_s) and self.min_duration_s >= 0):
            raise ValidationError("min_duration_s must be a finite number >= 0")
        if not self.critical_fraction >= 0:
            raise ValidationError("critical_fraction must be >= 0")
        object.__setattr__(self, "rules", tuple(Rule(r) for r in self.rules))


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A rule changed state for a sensor: ``raised`` (a new alert) or ``cleared``."""

    kind: EventKind
    alert_id: str
    rule: Rule
    sensor_id: str
    asset_id: str
    severity: Severity
    at_us: int
    value: float
    threshold: float
    message: str


@dataclass(slots=True)
class RuleState:
    """Where one (sensor, rule) stands: active or not, and the run towards a change."""

    active: bool = False
    run: int = 0
    run_start_us: int = 0
    alert_id: str | None = None
    severity: Severity = Severity.WARNING
    threshold: float = math.nan


@dataclass(slots=True)
class AlertStateStore:
    """Rule states by (sensor, rule), and the newest reading time seen per sensor."""

    states: dict[tuple[str, Rule], RuleState] = field(default_factory=dict)
    last_us: dict[str, int] = field(default_factory=dict)

    def get(self, sensor_id: str, rule: Rule) -> RuleState:
        return self.states.get((sensor_id, rule)) or RuleState()

    def put(self, sensor_id: str, rule: Rule, state: RuleState) -> None:
        if state.active or state.run:
            self.states[(sensor_id, rule)] = state
        else:
            self.states.pop((sensor_id, rule), None)

    def seed_active(
        self, sensor_id: str, rule: Rule, alert_id: str, severity: Severity, threshold: float
    ) -> None:
        """An alert already active (after a restart): the rule may clear it later."""
        self.states[(sensor_id, Rule(rule))] = RuleState(
            active=True, alert_id=alert_id, severity=Severity(severity), threshold=threshold
        )

    def active(self) -> list[tuple[str, Rule, RuleState]]:
        return [(s, r, st) for (s, r), st in self.states.items() if st.active]


@dataclass(frozen=True, slots=True)
class _Sorted:
    ts: np.ndarray
    value: np.ndarray
    asset_id: np.ndarray
    group: np.ndarray  # group (sensor) index of each reading
    starts: np.ndarray  # first index of each group
    ends: np.ndarray  # one past the last index of each group
    sensors: list[str]


class AlertEvaluator:
    """Evaluates the rules over batches; keeps its state in ``store`` between batches."""

    def __init__(
        self,
        rules: AlertRules | None = None,
        store: AlertStateStore | None = None,
        levels: Mapping[str, tuple[float | None, float | None]] | None = None,
    ) -> None:
        self.rules = rules or AlertRules()
        self.store = store or AlertStateStore()
        # explicit warning levels (low, high) per sensor, instead of the band fraction
        self.levels: dict[str, tuple[float | None, float | None]] = dict(levels or {})

    def evaluate(self, readings: ReadingColumns, sensors: Mapping[str, Sensor]) -> list[AlertEvent]:
        """The alerts raised and cleared by ``readings``, in time order per sensor."""
        data = self._prepare(readings, sensors)
        if data is None:
            return []
        events: list[AlertEvent] = []
        for rule in self.rules.rules:
            lo, hi, hyst = self._thresholds(rule, [sensors[s] for s in data.sensors])
            events.extend(self._run_rule(rule, data, lo, hi, hyst, sensors))
        for sid, end in zip(data.sensors, data.ends.tolist(), strict=True):
            self.store.last_us[sid] = int(data.ts[end - 1])
        events.sort(key=lambda e: (e.sensor_id, e.at_us, e.kind != EventKind.CLEARED))
        return events

    # ---- preparation -----------------------------------------------------------------

    def _prepare(self, r: ReadingColumns, sensors: Mapping[str, Sensor]) -> _Sorted | None:
        ts = np.asarray(r.ts, dtype=np.int64)
        value = np.asarray(r.value, dtype=np.float64)
        sid = np.asarray(r.sensor_id, dtype=object)
        if not len(ts):
            return None
        index: dict[str, int] = {}  # factorise in first-seen order (no object sort)
        codes = np.fromiter(
            (index.setdefault(s, len(index)) for s in sid.tolist()), np.int64, len(sid)
        )
        names = np.array(list(index), dtype=object)
        known = np.array([n in sensors for n in index], dtype=bool)
        never = int(np.iinfo(np.int64).min)
        last = np.array([self.store.last_us.get(n, never) for n in index], dtype=np.int64)
        keep = np.isfinite(value) & known[codes] & (ts > last[codes])
        if not keep.any():
            return None
        ts, value, codes = ts[keep], value[keep], codes[keep]
        asset = np.asarray(r.asset_id, dtype=object)[keep]
        order = np.lexsort((ts, codes))
        ts, value, codes, asset = ts[order], value[order], codes[order], asset[order]
        present, group = np.unique(codes, return_inverse=True)
        n = len(ts)
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        ends = np.r_[starts[1:], n]
        return _Sorted(ts, value, asset, group, starts, ends, names[present].tolist())

    def _thresholds(
        self, rule: Rule, sensors: list[Sensor]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo = np.array([math.nan if s.min_value is None else s.min_value for s in sensors])
        hi = np.array([math.nan if s.max_value is None else s.max_value for s in sensors])
        span = hi - lo
        hyst = np.where(np.isfinite(span), span * self.rules.hysteresis_fraction, 0.0)
        if rule is Rule.WARNING:
            f = self.rules.warning_fraction
            if f is None:  # registered levels only
                lo, hi = np.full(len(sensors), math.nan), np.full(len(sensors), math.nan)
            else:
                lo, hi = lo + (1.0 - f) * span, lo + f * span  # NaN unless both limits exist
            for i, s in enumerate(sensors):
                if s.warn_low is not None or s.warn_high is not None:
                    # the sensor's registered alarm levels replace the band fraction
                    lo[i] = math.nan if s.warn_low is None else s.warn_low
                    hi[i] = math.nan if s.warn_high is None else s.warn_high
                if s.id in self.levels:
                    low, high = self.levels[s.id]
                    lo[i] = math.nan if low is None else low
                    hi[i] = math.nan if high is None else high
        return lo, hi, hyst

    # ---- the scan, in vectorised rounds ------------------------------------------------

    def _run_rule(
        self,
        rule: Rule,
        d: _Sorted,
        lo: np.ndarray,
        hi: np.ndarray,
        hyst: np.ndarray,
        sensors: Mapping[str, Sensor],
    ) -> list[AlertEvent]:
        states = [self.store.get(s, rule) for s in d.sensors]
        active = np.array([st.active for st in states], dtype=bool)
        # an active alert whose rule no longer applies (levels removed) clears normally
        applies = np.isfinite(lo) | np.isfinite(hi) | active
        if not applies.any():
            return []
        g, v, ts = d.group, d.value, d.ts
        beyond = (v > hi[g]) | (v < lo[g])  # NaN thresholds compare False
        inside = np.where(np.isnan(hi[g]), True, v <= hi[g] - hyst[g]) & np.where(
            np.isnan(lo[g]), True, v >= lo[g] + hyst[g]
        )
        carry = np.array([st.run for st in states], dtype=np.int64)
        carry_start = np.array([st.run_start_us for st in states], dtype=np.int64)
        n, n_groups = len(ts), len(d.sensors)
        idx = np.arange(n)
        cursor = d.starts.copy()
        pending = applies & (cursor < d.ends)
        need = self.rules.min_readings
        need_us = int(round(self.rules.min_duration_s * 1e6))
        events: list[AlertEvent] = []
        while pending.any():
            c = np.where(active[g], inside, beyond) & (idx >= cursor[g]) & pending[g]
            base = np.where(c, -1, idx)
            pg = np.flatnonzero(pending)
            base[cursor[pg]] = np.maximum(base[cursor[pg]], cursor[pg] - 1)
            reset = np.maximum.accumulate(base)  # last index that broke the run
            fresh = c & (reset == cursor[g] - 1)  # no break since the cursor: carry on
            run = np.where(c, idx - reset, 0) + np.where(fresh, carry[g], 0)
            first = ts[np.minimum(reset + 1, n - 1)]
            start = np.where(fresh & (carry[g] > 0), carry_start[g], first)
            hit = np.flatnonzero(c & (run >= need) & (ts - start >= need_us))
            hit_groups, at = np.unique(g[hit], return_index=True)
            flipped = np.zeros(n_groups, dtype=bool)
            flipped[hit_groups] = True
            done = pending & ~flipped  # no further change in this batch: keep the run
            last = d.ends[done] - 1
            carry[done] = np.where(c[last], run[last], 0)
            carry_start[done] = np.where(c[last], start[last], 0)
            pending[done] = False
            for grp, i in zip(hit_groups.tolist(), hit[at].tolist(), strict=True):
                sid = d.sensors[grp]
                st = states[grp]
                if active[grp]:
                    events.append(self._cleared(rule, sid, str(d.asset_id[i]), st, ts[i], v[i]))
                    states[grp] = RuleState()
                else:
                    lo_run = max(int(i - run[i] + 1), int(d.starts[grp]))
                    peak = v[lo_run : i + 1]
                    ev = self._raised(
                        rule, sensors[sid], str(d.asset_id[i]), ts[i], v[i], lo[grp], hi[grp], peak
                    )
                    events.append(ev)
                    states[grp] = RuleState(
                        active=True,
                        alert_id=ev.alert_id,
                        severity=ev.severity,
                        threshold=ev.threshold,
                    )
                active[grp] = not active[grp]
                carry[grp] = 0
                cursor[grp] = i + 1
                pending[grp] = cursor[grp] < d.ends[grp]
        for grp, sid in enumerate(d.sensors):
            st = states[grp]
            st.run, st.run_start_us = int(carry[grp]), int(carry_start[grp])
            self.store.put(sid, rule, st)
        return events

    # ---- events ------------------------------------------------------------------------

    def _raised(
        self,
        rule: Rule,
        sensor: Sensor,
        asset_id: str,
        at_us: int,
        value: float,
        lo: float,
        hi: float,
        run_values: np.ndarray,
    ) -> AlertEvent:
        high = bool(value > hi) if math.isfinite(hi) else False
        threshold = float(hi if high else lo)
        unit = f" {sensor.unit}" if sensor.unit else ""
        if rule is Rule.LIMIT:
            limit = "maximum" if high else "minimum"
            peak = float(run_values.max() - hi) if high else float(lo - run_values.min())
            span = _span(sensor)
            critical = span is None or peak >= self.rules.critical_fraction * span
            severity = Severity.CRITICAL if critical else Severity.WARNING
            message = (
                f"{sensor.name} ({sensor.id}) reads {value:g}{unit}, "
                f"{'above' if high else 'below'} its {limit} {threshold:g}{unit}"
            )
        else:
            severity = Severity.WARNING
            registered = (
                sensor.id in self.levels
                or sensor.warn_low is not None
                or sensor.warn_high is not None
            )
            if registered or self.rules.warning_fraction is None:
                why = "set for this sensor"
            else:
                pct = round(100 * self.rules.warning_fraction)
                band = f"{pct}% of the range" if high else f"{100 - pct}% of the range"
                why = f"{band} {sensor.min_value:g}..{sensor.max_value:g}{unit}"
            message = (
                f"{sensor.name} ({sensor.id}) reads {value:g}{unit}, "
                f"{'above' if high else 'below'} the warning level {threshold:g}{unit} ({why})"
            )
        return AlertEvent(
            kind=EventKind.RAISED,
            alert_id=new_alert_id(),
            rule=rule,
            sensor_id=sensor.id,
            asset_id=asset_id or sensor.asset_id,
            severity=severity,
            at_us=int(at_us),
            value=float(value),
            threshold=threshold,
            message=message,
        )

    @staticmethod
    def _cleared(
        rule: Rule, sensor_id: str, asset_id: str, st: RuleState, at_us: int, value: float
    ) -> AlertEvent:
        return AlertEvent(
            kind=EventKind.CLEARED,
            alert_id=st.alert_id or new_alert_id(),
            rule=rule,
            sensor_id=sensor_id,
            asset_id=asset_id,
            severity=st.severity,
            at_us=int(at_us),
            value=float(value),
            threshold=st.threshold,
            message=f"{sensor_id} back within its {rule} threshold: {value:g}",
        )


def _span(sensor: Sensor) -> float | None:
    if sensor.min_value is None or sensor.max_value is None:
        return None
    return float(sensor.max_value - sensor.min_value)


def active_sensors(events: Iterable[AlertEvent]) -> set[str]:
    """Sensors left with a raised alert by ``events`` (a helper for callers and tests)."""
    state: dict[tuple[str, Rule], bool] = {}
    for e in events:
        state[(e.sensor_id, e.rule)] = e.kind is EventKind.RAISED
    return {s for (s, _), on in state.items() if on}
