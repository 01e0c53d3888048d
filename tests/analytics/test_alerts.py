"""Alert rules: limits, warning bands, hysteresis, persistence; vectorised == scalar."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics.alerts import (
    AlertEvaluator,
    AlertRules,
    EventKind,
    Rule,
    Severity,
    active_sensors,
)
from graph.errors import ValidationError
from graph.model import Sensor

T0 = 1_700_000_000_000_000
SECOND = 1_000_000


@dataclass
class Cols:
    ts: np.ndarray
    sensor_id: np.ndarray
    asset_id: np.ndarray
    value: np.ndarray


def cols(sensor: str, values: list[float], start: int = 0, step: int = SECOND) -> Cols:
    n = len(values)
    return Cols(
        ts=np.arange(n, dtype=np.int64) * step + T0 + start * step,
        sensor_id=np.array([sensor] * n, dtype=object),
        asset_id=np.array(["pump"] * n, dtype=object),
        value=np.array(values, dtype=np.float64),
    )


def concat(parts: list[Cols]) -> Cols:
    return Cols(*(np.concatenate([getattr(p, f) for p in parts]) for f in Cols.__annotations__))


def take(c: Cols, sl: slice | np.ndarray) -> Cols:
    return Cols(c.ts[sl], c.sensor_id[sl], c.asset_id[sl], c.value[sl])


VIB = Sensor("vib", "pump", "Vibration", "vibration", "mm/s", 0.0, 20.0)
TEMP = Sensor("temp", "pump", "Bearing temperature", "temperature", "°C", -20.0, 120.0)
HIGH_ONLY = Sensor("p", "pump", "Pressure", "pressure", "bar", None, 10.0)
SENSORS = {s.id: s for s in (VIB, TEMP, HIGH_ONLY)}


def kinds(events: list) -> list[tuple[str, str]]:
    return [(str(e.rule), str(e.kind)) for e in events]


def test_rules_are_validated() -> None:
    for bad in (
        {"warning_fraction": 0.4},
        {"hysteresis_fraction": 0.5},
        {"warning_fraction": 1.0},
        {"hysteresis_fraction": 0.2, "warning_fraction": 0.9},
        {"min_readings": 0},
        {"min_duration_s": math.inf},
    ):
        with pytest.raises(ValidationError):
            AlertRules(**bad)  # type: ignore[arg-type]


BAND = 0.9  # the opt-in band inferred from the measuring range (10%..90%)


def test_warning_band_raises_after_persisting_and_clears_with_hysteresis() -> None:
    ev = AlertEvaluator(AlertRules(min_readings=3, warning_fraction=BAND))
    # 18 is the warning level (90% of 0..20); hysteresis 2% of span = 0.4 -> clears <= 17.6
    assert ev.evaluate(cols("vib", [10, 18.5, 18.6, 10, 18.7]), SENSORS) == []  # broken run
    events = ev.evaluate(cols("vib", [18.5, 18.4, 18.3], start=5), SENSORS)
    (raised,) = events
    assert (raised.kind, raised.rule, raised.severity) == (
        EventKind.RAISED,
        Rule.WARNING,
        Severity.WARNING,
    )
    assert raised.at_us == T0 + 6 * SECOND  # the third reading of the run (18.7 carried)
    assert raised.threshold == pytest.approx(18.0)
    assert "above the warning level 18 mm/s" in raised.message
    # inside the hysteresis zone (17.6, 18]: stays raised; below 17.6 three times: clears
    assert ev.evaluate(cols("vib", [17.9, 17.7, 17.8, 17.95], start=8), SENSORS) == []
    (cleared,) = ev.evaluate(cols("vib", [17.5, 17.0, 16.0], start=12), SENSORS)
    assert (cleared.kind, cleared.alert_id) == (EventKind.CLEARED, raised.alert_id)
    assert active_sensors([raised, cleared]) == set()


def test_without_alarm_levels_only_the_limit_rule_applies() -> None:
    """A healthy CO2 of 450 ppm sits in the bottom tenth of a 0..5000 ppm transmitter:
    no inferred band, no alert; beyond the measuring range still raises."""
    co2 = Sensor("co2", "zone", "CO2", "co2", "ppm", 0.0, 5000.0)
    ev = AlertEvaluator(AlertRules(min_readings=1))
    assert ev.evaluate(cols("co2", [420.0, 450.0, 4800.0, 30.0]), {"co2": co2}) == []
    events = ev.evaluate(cols("co2", [5200.0, 5100.0], start=10), {"co2": co2})
    assert kinds(events) == [("limit", "raised")]


def test_out_of_range_raises_limit_and_warning_with_severity_by_excess() -> None:
    ev = AlertEvaluator(AlertRules(min_readings=2, warning_fraction=BAND))
    events = ev.evaluate(cols("temp", [50, 121, 122, 123]), SENSORS)
    assert sorted(kinds(events)) == [("limit", "raised"), ("warning", "raised")]
    limit = next(e for e in events if e.rule is Rule.LIMIT)
    assert limit.severity is Severity.WARNING  # 2 °C beyond a 140 °C span: not critical
    assert "above its maximum 120 °C" in limit.message
    ev2 = AlertEvaluator(AlertRules(min_readings=2, warning_fraction=BAND))
    events = ev2.evaluate(cols("temp", [-40, -45]), SENSORS)  # 25 °C below -20: critical
    limit = next(e for e in events if e.rule is Rule.LIMIT)
    assert (limit.severity, limit.threshold) == (Severity.CRITICAL, -20.0)
    assert "below its minimum -20 °C" in limit.message


def test_a_sensor_with_one_limit_gets_the_limit_rule_only() -> None:
    ev = AlertEvaluator(AlertRules(min_readings=1))
    events = ev.evaluate(cols("p", [9.99, 10.5, 9.0]), SENSORS)
    assert kinds(events) == [("limit", "raised"), ("limit", "cleared")]
    assert events[0].severity is Severity.CRITICAL  # no span: any excess is critical


def test_minimum_duration_and_ignored_readings() -> None:
    ev = AlertEvaluator(AlertRules(min_readings=1, min_duration_s=10, warning_fraction=BAND))
    fast = cols("vib", [19.0] * 5, step=SECOND)  # 4 s of readings: not yet
    assert ev.evaluate(fast, SENSORS) == []
    later = cols("vib", [19.0, math.nan], start=11)  # 11 s after the run started
    (raised,) = ev.evaluate(later, SENSORS)
    assert raised.at_us == T0 + 11 * SECOND
    # old readings (replays) and unknown sensors are ignored
    assert ev.evaluate(cols("vib", [0.0] * 20), SENSORS) == []
    assert ev.evaluate(cols("nobody", [1e9] * 5, start=100), SENSORS) == []


def test_seeded_active_alert_can_clear_after_a_restart() -> None:
    """Seeded while the sensor has no warning levels any more: the rule still clears it."""
    ev = AlertEvaluator(AlertRules(min_readings=2))
    ev.store.seed_active("vib", Rule.WARNING, "alert-x", Severity.WARNING, 18.0)
    (cleared,) = ev.evaluate(cols("vib", [5.0, 5.0]), SENSORS)
    assert (cleared.kind, cleared.alert_id, cleared.threshold) == (
        EventKind.CLEARED,
        "alert-x",
        18.0,
    )
    assert ev.store.active() == []


# ---- property tests -------------------------------------------------------------------


def reference(
    values: list[float], lo: float, hi: float, h: float, need: int, dur: int = 0
) -> list[str]:
    """Scalar state machine, one reading a second (the specification)."""
    active, run, since, out = False, 0, 0, []
    for t, v in enumerate(values):
        cond = (lo + h <= v <= hi - h) if active else (v > hi or v < lo)
        run = run + 1 if cond else 0
        since = t if run == 1 else since
        if run >= need and t - since >= dur:
            out.append("cleared" if active else "raised")
            active, run = not active, 0
    return out


values_st = st.lists(
    st.floats(min_value=-5, max_value=25, allow_nan=False).map(lambda x: round(x, 1)),
    min_size=1,
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(
    a=values_st,
    b=values_st,
    need=st.integers(1, 4),
    dur=st.sampled_from([0, 0, 2, 5]),
    cuts=st.lists(st.integers(0, 160), max_size=6),
)
def test_vectorised_scan_matches_the_scalar_reference_whatever_the_batching(
    a: list[float], b: list[float], need: int, dur: int, cuts: list[int]
) -> None:
    rules = AlertRules(
        min_readings=need, min_duration_s=dur, rules=(Rule.WARNING,), warning_fraction=BAND
    )
    both = concat([cols("vib", a), cols("temp", [x * 7 - 20 for x in b])])
    both = take(both, np.argsort(both.ts, kind="stable"))  # sensors interleaved in time
    ev = AlertEvaluator(rules)
    got: list = []
    edges = sorted({0, len(both.ts), *(c for c in cuts if c < len(both.ts))})
    for s, e in zip(edges[:-1], edges[1:], strict=True):
        got.extend(ev.evaluate(take(both, slice(s, e)), SENSORS))
    for sensor, vals in (("vib", a), ("temp", [x * 7 - 20 for x in b])):
        span = SENSORS[sensor].max_value - SENSORS[sensor].min_value  # type: ignore[operator]
        lo = SENSORS[sensor].min_value + 0.1 * span  # type: ignore[operator]
        hi = SENSORS[sensor].min_value + 0.9 * span  # type: ignore[operator]
        want = reference(vals, lo, hi, 0.02 * span, need, dur)
        assert [str(e.kind) for e in got if e.sensor_id == sensor] == want


@settings(max_examples=100, deadline=None)
@given(
    level=st.floats(min_value=2.0, max_value=18.0),
    n=st.integers(1, 200),
    cuts=st.lists(st.integers(0, 200), max_size=5),
)
def test_a_constant_in_band_signal_never_raises(level: float, n: int, cuts: list[int]) -> None:
    ev = AlertEvaluator(AlertRules(min_readings=1, warning_fraction=BAND))
    c = cols("vib", [level] * n)
    edges = sorted({0, n, *(x for x in cuts if x < n)})
    for s, e in zip(edges[:-1], edges[1:], strict=True):
        assert ev.evaluate(take(c, slice(s, e)), SENSORS) == []


@settings(max_examples=100, deadline=None)
@given(
    before=st.lists(st.floats(min_value=3.0, max_value=17.0), min_size=0, max_size=40),
    after=st.lists(st.floats(min_value=17.7, max_value=19.9), min_size=3, max_size=60),
    need=st.integers(1, 3),
    cut=st.integers(0, 100),
)
def test_a_signal_that_crosses_once_raises_exactly_once(
    before: list[float], after: list[float], need: int, cut: int
) -> None:
    """In band, then above the warning level with noise inside the hysteresis zone."""
    after = [19.0] * need + after  # the crossing persists long enough to count
    ev = AlertEvaluator(AlertRules(min_readings=need, warning_fraction=BAND))
    c = cols("vib", before + after)
    cut = min(cut, len(c.ts))
    events = ev.evaluate(take(c, slice(0, cut)), SENSORS)
    events += ev.evaluate(take(c, slice(cut, None)), SENSORS)
    assert kinds(events) == [("warning", "raised")]


def test_explicit_warning_levels_replace_the_band_fraction() -> None:
    """An alarm level below the band (ISO 10816: 4.5 mm/s) for a 0..20 mm/s sensor."""
    rules = AlertRules(min_readings=2, warning_fraction=BAND)
    ev = AlertEvaluator(rules, levels={"vib": (None, 4.5)})
    events = ev.evaluate(cols("vib", [2.0, 4.6, 4.7, 0.1, 0.1]), SENSORS)
    assert kinds(events) == [("warning", "raised"), ("warning", "cleared")]
    assert events[0].threshold == 4.5 and "set for this sensor" in events[0].message
