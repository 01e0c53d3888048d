"""The step per reading of ``AlertEvaluator`` (for small batches): the same rules as the
vectorised scan, one Python step per reading and rule, the readings in time order.

The scan's cost is mostly fixed per batch and per sensor; this one's is per reading, so
it is the cheaper on small batches. It keeps each sensor's thresholds from batch to
batch while the sensor (the same object), its level in ``AlertEvaluator.levels`` and
the evaluator's rules stay the same; the rule states live in the evaluator's store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analytics.grouping import ReadingColumns
from analytics.model import AlertEvent, Rule, RuleState
from analytics.rule_events import cleared_event, raised_event
from graph.model import Sensor

if TYPE_CHECKING:
    from analytics.alerts import AlertEvaluator

__all__ = ["Stepper"]


@dataclass(slots=True)
class _Step:
    """One rule of one sensor in ``Stepper``: its thresholds (kept from batch to batch
    while the sensor and its levels stay the same) and, for the batch at hand, its
    state."""

    rule: Rule
    lo: float
    hi: float
    lo_in: float  # back inside: at or above (low + hysteresis)
    hi_in: float  # and at or below (high - hysteresis)
    state: RuleState | None = None
    applies: bool = True
    seen: bool = False  # a reading of the current run in this batch
    run_max: float = math.nan
    run_min: float = math.nan


@dataclass(slots=True)
class _SensorSteps:
    sensor: Sensor
    level: tuple[float | None, float | None] | None  # the evaluator's level, if any
    steps: list[_Step]
    before_us: int = 0  # the newest reading seen before this batch


class Stepper:
    """The step per reading, with the thresholds it keeps per sensor."""

    MAX_SENSORS = 100_000  # kept thresholds before it starts afresh

    def __init__(self) -> None:
        self._cache: dict[str, _SensorSteps] = {}
        self._rules: object = None

    def evaluate(
        self, ev: AlertEvaluator, r: ReadingColumns, sensors: Mapping[str, Sensor]
    ) -> list[AlertEvent]:
        """The same rules, one Python step per reading and rule (for small batches): the
        readings in time order, each rule's state a ``RuleState`` of the store."""
        ts = np.asarray(r.ts, dtype=np.int64)
        if not len(ts):
            return []
        t_l, v_l = ts.tolist(), np.asarray(r.value, dtype=np.float64).tolist()
        s_l = np.asarray(r.sensor_id, dtype=object).tolist()
        a_l = np.asarray(r.asset_id, dtype=object).tolist()
        order = range(len(t_l)) if (ts[1:] >= ts[:-1]).all() else np.argsort(ts, kind="stable")
        batch = self._sensor_steps(ev, s_l, sensors)
        if not batch:
            return []
        need, need_us = ev.rules.min_readings, int(round(ev.rules.min_duration_s * 1e6))
        newest: dict[str, int] = {}
        events: list[AlertEvent] = []
        for i in order:
            s = s_l[i]
            entry = batch.get(s)
            v, t = v_l[i], t_l[i]
            if entry is None or v != v or t <= entry.before_us:  # unknown, missing, not newer
                continue
            newest[s] = t
            for step in entry.steps:
                if not step.applies:
                    continue
                st = step.state
                active = st is not None and st.active
                if active:
                    holds = not (v > step.hi_in) and not (v < step.lo_in)  # NaN: True
                else:
                    holds = v > step.hi or v < step.lo  # NaN thresholds: False
                if not holds:
                    if st is not None:
                        st.run, st.run_start_us = 0, 0
                    continue
                if st is None:
                    st = step.state = RuleState()
                st.run += 1
                if st.run == 1:
                    st.run_start_us = t
                if st.run == 1 or not step.seen:  # the run's extremes within this batch
                    step.run_max = step.run_min = v
                    step.seen = True
                else:
                    step.run_max, step.run_min = max(step.run_max, v), min(step.run_min, v)
                if st.run < need or t - st.run_start_us < need_us:
                    continue
                if active:
                    events.append(cleared_event(step.rule, s, str(a_l[i]), st, t, v))
                    step.state = RuleState()
                else:
                    raised = raised_event(
                        ev.rules, ev.levels, step.rule, entry.sensor, str(a_l[i]), t, v,
                        step.lo, step.hi, step.run_max, step.run_min,
                    )  # fmt: skip
                    events.append(raised)
                    step.state = RuleState(
                        active=True,
                        alert_id=raised.alert_id,
                        severity=raised.severity,
                        threshold=raised.threshold,
                    )
        for s, entry in batch.items():
            for step in entry.steps:
                if step.state is not None:
                    ev.store.put(s, step.rule, step.state)
                    step.state = None  # the store holds it between batches
        ev.store.last_us.update(newest)
        return events

    def _sensor_steps(
        self, ev: AlertEvaluator, sensor_ids: list[str], sensors: Mapping[str, Sensor]
    ) -> dict[str, _SensorSteps]:
        """The steps of the known sensors among ``sensor_ids``, ready for a batch: their
        thresholds from the cache unless the sensor or its level changed, their states
        from the store."""
        cache = self._cache
        if self._rules is not ev.rules or len(cache) > self.MAX_SENSORS:
            cache.clear()
            self._rules = ev.rules
        batch: dict[str, _SensorSteps] = {}
        stale: dict[str, Sensor] = {}
        levels = ev.levels
        for s in dict.fromkeys(sensor_ids):
            sensor = sensors.get(s)
            if sensor is None:
                continue
            entry = cache.get(s)
            if entry is None or entry.sensor is not sensor or entry.level != levels.get(s):
                stale[s] = sensor
            else:
                batch[s] = entry
        if stale:
            thresholds = ev.thresholds(list(stale.values()))
            rows = {
                rule: zip(*(x.tolist() for x in arrays), strict=True)
                for rule, arrays in thresholds.items()
            }
            for s, sensor in stale.items():
                steps = []
                for rule, it in rows.items():
                    lo, hi, hyst = next(it)
                    steps.append(_Step(rule, lo, hi, lo + hyst, hi - hyst))
                batch[s] = cache[s] = _SensorSteps(sensor, levels.get(s), steps)
        stored, last_us, never = ev.store.states, ev.store.last_us, -(2**63)
        for s, entry in batch.items():
            entry.before_us = last_us.get(s, never)
            for step in entry.steps:
                st = step.state = stored.get((s, step.rule))
                step.seen = False
                # as in the scan: a rule without thresholds leaves an inactive state alone
                step.applies = (
                    step.lo == step.lo or step.hi == step.hi or (st is not None and st.active)
                )
        return batch
