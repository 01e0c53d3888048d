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

How it runs. The sensor ids are coded to integers by a dict kept from batch to batch,
one lookup per run of equal ids (``analytics.codes``); the readings that count are
grouped by sensor, without a sort when they come grouped (``analytics.grouping``). The
state machine, a scan per (sensor, rule), runs in rounds vectorised over the batch
(``analytics.scan``): a round finds, for every sensor at once, the first reading where
its rule changes state, and works on the readings where a condition holds rather than
on all. A batch costs one round plus one per change. Batches under
``AlertEvaluator.STEPWISE_BELOW`` readings take a Python step per reading instead, with
the same results: the scan's fixed cost per batch is more than their whole work.

Speed, from ``bench/bench_alerts.py`` (three runs on a shared 2-core machine, best of 3
each; the figures move with the load, the ratios less). On 20 batches of 2,000 sensors
x 50 readings the evaluator did 15 to 24 M readings/s quiet and 11.8 to 13.4 M busy:
5 to 10 times a per-reading Python loop doing the same job (its alert changes checked
equal), 2.5 to 3.9 times the minimal one-rule loop of the earlier baseline (on the
warning rule alone, as that loop), 3.5 to 4.7 times the loop with the sensors
interleaved. The version before (ids factorised reading by reading, full passes every
round) did 2.2 to 2.4 M quiet and 1.5 to 2.1 M busy there, about as fast as the full
loop and slower than the minimal one. Small batches remain the loop's: with one reading
per sensor in batches of 1,000 (a poll cycle) the evaluator ran at 0.4 to 0.6 times the
loop (0.1 before), on batches of 20 readings at 0.3 times (0.02 before); there its cost
goes per batch and per sensor, not per reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import repeat
from typing import Literal

import numpy as np

from analytics.codes import IdCoder
from analytics.grouping import Grouped, ReadingColumns, group_readings
from analytics.model import (
    AlertEvent,
    AlertRules,
    AlertStateStore,
    EventKind,
    Rule,
    RuleState,
    Severity,
    new_alert_id,
)
from analytics.rule_events import cleared_event, raised_event, rule_thresholds
from analytics.scan import scan
from analytics.stepwise import Stepper
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



class AlertEvaluator:
    """Evaluates the rules over batches; keeps its state in ``store`` between batches.

    A batch of fewer than ``STEPWISE_BELOW`` readings takes a Python step per reading,
    a larger one the vectorised scan; both give the same alerts (the tests run every
    case through both). The scan costs some 150-300 µs a batch whatever its size (a
    hundred-odd numpy calls) plus about a microsecond per sensor in it; the step per
    reading, with each sensor's thresholds kept from batch to batch, costs a few
    microseconds per reading. Measured where written, the step per reading was the
    faster up to 500 readings a batch, about even at 1,000 and slower beyond (see
    ``bench/bench_alerts.py``)."""

    STEPWISE_BELOW = 500

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
        self._coder = IdCoder()
        self._mode: Literal["auto", "vectorised", "stepwise"] = "auto"  # tests pin a path
        self._stepper = Stepper()  # the step per reading, and the thresholds it keeps

    def evaluate(self, readings: ReadingColumns, sensors: Mapping[str, Sensor]) -> list[AlertEvent]:
        """The alerts raised and cleared by ``readings``, in time order per sensor."""
        n = len(readings.ts)
        if self._mode == "stepwise" or (self._mode == "auto" and n < self.STEPWISE_BELOW):
            events = self._stepper.evaluate(self, readings, sensors)
        else:
            events = self._vectorised(readings, sensors)
        rank = {r: k for k, r in enumerate(self.rules.rules)}
        events.sort(key=lambda e: (e.sensor_id, e.at_us, e.kind != EventKind.CLEARED, rank[e.rule]))
        return events

    def _vectorised(self, r: ReadingColumns, sensors: Mapping[str, Sensor]) -> list[AlertEvent]:
        data = group_readings(r, sensors, self._coder, self.store.last_us)
        if data is None:
            return []
        events: list[AlertEvent] = []
        group_sensors = list(map(sensors.__getitem__, data.sensors))
        for rule, (lo, hi, hyst) in self.thresholds(group_sensors).items():
            events.extend(self._run_rule(rule, data, lo, hi, hyst, group_sensors))
        self.store.last_us.update(zip(data.sensors, data.ts[data.ends - 1].tolist(), strict=True))
        return events

    # ---- thresholds ------------------------------------------------------------------

    def thresholds(
        self, sensors: list[Sensor]
    ) -> dict[Rule, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per rule: its (low, high, hysteresis) for each of ``sensors``, NaN for none."""
        return rule_thresholds(self.rules, self.levels, sensors)

    # ---- one rule over the batch -------------------------------------------------------

    def _run_rule(
        self,
        rule: Rule,
        d: Grouped,
        lo: np.ndarray,
        hi: np.ndarray,
        hyst: np.ndarray,
        sensors: list[Sensor],
    ) -> list[AlertEvent]:
        n_groups = len(d.sensors)
        held = self._states(rule, d.sensors)  # group -> stored state (few, usually)
        active = np.zeros(n_groups, dtype=bool)
        active[list(held)] = [st.active for st in held.values()]
        # an active alert whose rule no longer applies (levels removed) clears normally
        applies = np.isfinite(lo) | np.isfinite(hi) | active
        groups = np.flatnonzero(applies)  # the scan skips the sensors the rule ignores
        if not len(groups):
            return []
        starts, ends = d.starts[groups], d.ends[groups]
        lengths = ends - starts
        if len(groups) == n_groups:
            rows: np.ndarray | None = None  # every reading
            ts, v = d.ts, d.value
            local_starts = starts
            mine = held  # local index = group
        else:
            local_starts = np.cumsum(lengths) - lengths
            rows = np.repeat(starts - local_starts, lengths) + np.arange(int(lengths.sum()))
            ts, v = d.ts[rows], d.value[rows]
            local = np.cumsum(applies) - 1
            mine = {int(local[g]): st for g, st in held.items() if applies[g]}
        lo_r, hi_r = np.repeat(lo[groups], lengths), np.repeat(hi[groups], lengths)
        beyond = (v > hi_r) | (v < lo_r)  # NaN thresholds compare False
        if not beyond.any() and not any(st.active for st in mine.values()):
            # nothing raises and nothing to clear: the runs carried in end here
            for k, st in mine.items():
                st.run, st.run_start_us = 0, 0
                self.store.put(d.sensors[int(groups[k])], rule, st)
            return []
        hyst_r = np.repeat(hyst[groups], lengths)
        inside = ~(v > hi_r - hyst_r) & ~(v < lo_r + hyst_r)  # v is never NaN here
        carry = np.zeros(len(groups), dtype=np.int64)
        carry_start = np.zeros(len(groups), dtype=np.int64)
        for k, st in mine.items():
            carry[k], carry_start[k] = st.run, st.run_start_us
        flips = scan(
            ts,
            beyond,
            inside,
            local_starts,
            local_starts + lengths,
            active[groups],
            carry,
            carry_start,
            self.rules.min_readings,
            int(round(self.rules.min_duration_s * 1e6)),
        )
        events: list[AlertEvent] = []
        now: dict[int, RuleState | None] = dict(mine)  # local group -> its state as it goes
        for k, i, run in zip(
            flips.group.tolist(), flips.index.tolist(), flips.run.tolist(), strict=True
        ):
            grp = int(groups[k])
            at = i if rows is None else int(rows[i])
            held_state = now.get(k)
            if held_state is not None and held_state.active:
                events.append(
                    cleared_event(rule, d.sensors[grp], d.asset_at(at), held_state, ts[i], v[i])
                )
                now[k] = None
            else:
                peak = v[max(i - run + 1, int(local_starts[k])) : i + 1]  # within the batch
                ev = raised_event(
                    self.rules,
                    self.levels,
                    rule, sensors[grp], d.asset_at(at), ts[i], v[i], lo[grp], hi[grp],
                    peak.max(), peak.min(),
                )  # fmt: skip
                events.append(ev)
                now[k] = RuleState(
                    active=True, alert_id=ev.alert_id, severity=ev.severity, threshold=ev.threshold
                )
        # write back what the batch touched: states held or changed, runs carried or ended
        for k in sorted(now.keys() | set(np.flatnonzero(carry).tolist())):
            st = now.get(k) or RuleState()
            st.run, st.run_start_us = int(carry[k]), int(carry_start[k])
            self.store.put(d.sensors[int(groups[k])], rule, st)
        return events

    def _states(self, rule: Rule, sensor_ids: list[str]) -> dict[int, RuleState]:
        """The stored states of ``rule`` by position in ``sensor_ids``, where there is one."""
        stored = self.store.states
        if not stored:
            return {}
        if len(stored) >= len(sensor_ids):
            got = map(stored.get, zip(sensor_ids, repeat(rule)))
            return {k: st for k, st in enumerate(got) if st is not None}
        at = {s: k for k, s in enumerate(sensor_ids)}  # fewer states than sensors
        return {at[sid]: st for (sid, r), st in stored.items() if r == rule and sid in at}

def active_sensors(events: Iterable[AlertEvent]) -> set[str]:
    """Sensors left with a raised alert by ``events`` (a helper for callers and tests)."""
    state: dict[tuple[str, Rule], bool] = {}
    for e in events:
        state[(e.sensor_id, e.rule)] = e.kind is EventKind.RAISED
    return {s for (s, _), on in state.items() if on}
