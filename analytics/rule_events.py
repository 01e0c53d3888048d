"""What the alert rules make of a sensor: its thresholds per rule and the events a rule
raises or clears. Shared by the vectorised evaluator (``analytics.alerts``) and the step per
reading (``analytics.stepwise``), so both give the same thresholds, severities and words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from itertools import chain
from operator import attrgetter

import numpy as np

from analytics.model import (
    AlertEvent,
    AlertRules,
    EventKind,
    Rule,
    RuleState,
    Severity,
    new_alert_id,
)
from graph.model import Sensor

__all__ = ["Levels", "cleared_event", "raised_event", "rule_thresholds"]

Levels = Mapping[str, tuple[float | None, float | None]]
"""Explicit warning levels (low, high) per sensor id, replacing the sensor's own."""

_LIMITS = attrgetter("min_value", "max_value", "warn_low", "warn_high")


def rule_thresholds(
    rules: AlertRules, levels: Levels, sensors: list[Sensor]
) -> dict[Rule, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per rule: its (low, high, hysteresis) for each of ``sensors``, NaN for none."""
    # min, max, warn_low, warn_high per sensor, None as NaN
    flat = [math.nan if x is None else x for x in chain.from_iterable(map(_LIMITS, sensors))]
    table = np.fromiter(flat, np.float64, len(flat)).reshape(-1, 4)
    lo, hi = table[:, 0], table[:, 1]
    span = hi - lo
    hyst = np.where(np.isfinite(span), span * rules.hysteresis_fraction, 0.0)
    out = {}
    for rule in rules.rules:
        out[rule] = (
            (*_warning_levels(rules, levels, sensors, lo, span, table[:, 2], table[:, 3]), hyst)
            if rule is Rule.WARNING
            else (lo, hi, hyst)
        )
    return out

def _warning_levels(
    rules: AlertRules,
    levels: Levels,
    sensors: list[Sensor],
    lo: np.ndarray,
    span: np.ndarray,
    reg_lo: np.ndarray,
    reg_hi: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The warning rule's (low, high) per sensor, NaN where it has none."""
    f = rules.warning_fraction
    if f is None:  # registered levels only
        w_lo = w_hi = np.full(len(sensors), math.nan)
    else:
        w_lo, w_hi = lo + (1.0 - f) * span, lo + f * span  # NaN unless both limits exist
    # the sensor's registered alarm levels (reg_lo, reg_hi) replace the band fraction
    registered = ~(np.isnan(reg_lo) & np.isnan(reg_hi))
    w_lo, w_hi = np.where(registered, reg_lo, w_lo), np.where(registered, reg_hi, w_hi)
    if levels:  # and the evaluator's explicit levels replace both
        for i, s in enumerate(sensors):
            if s.id in levels:
                low, high = levels[s.id]
                w_lo[i] = math.nan if low is None else low
                w_hi[i] = math.nan if high is None else high
    return w_lo, w_hi


def raised_event(
    rules: AlertRules,
    levels: Levels,
    rule: Rule,
    sensor: Sensor,
    asset_id: str,
    at_us: int,
    value: float,
    lo: float,
    hi: float,
    run_max: float,
    run_min: float,
) -> AlertEvent:
    high = bool(value > hi) if math.isfinite(hi) else False
    threshold = float(hi if high else lo)
    unit = f" {sensor.unit}" if sensor.unit else ""
    if rule is Rule.LIMIT:
        limit = "maximum" if high else "minimum"
        peak = float(run_max - hi) if high else float(lo - run_min)
        span = _span(sensor)
        critical = span is None or peak >= rules.critical_fraction * span
        severity = Severity.CRITICAL if critical else Severity.WARNING
        message = (
            f"{sensor.name} ({sensor.id}) reads {value:g}{unit}, "
            f"{'above' if high else 'below'} its {limit} {threshold:g}{unit}"
        )
    else:
        severity = Severity.WARNING
        registered = (
            sensor.id in levels
            or sensor.warn_low is not None
            or sensor.warn_high is not None
        )
        if registered or rules.warning_fraction is None:
            why = "set for this sensor"
        else:
            pct = round(100 * rules.warning_fraction)
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

def cleared_event(
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
