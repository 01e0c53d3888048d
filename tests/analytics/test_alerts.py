"""Alert rules: limits, warning bands, hysteresis, persistence; vectorised == scalar.

Every test runs twice: through the vectorised scan and through the step per reading
(``AlertEvaluator`` picks one by batch size; the two must not differ)."""

from __future__ import annotations

import math
from collections.abc import Iterator
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
from ingest.store import ReadingBatch

T0 = 1_700_000_000_000_000
SECOND = 1_000_000
PATHS = {
    "vectorised": {"STEPWISE_BELOW": 0},
    "stepwise": {"STEPWISE_BELOW": 2**62},
}


@pytest.fixture(scope="module", autouse=True, params=sorted(PATHS))
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    """The evaluation path every evaluator in the module takes."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in PATHS[request.param].items():
            mp.setattr(AlertEvaluator, name, value)
        yield request.param


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


# ---- the batch as it comes: empty, NaN, bad quality, unknown ids, any order ------------


def test_an_empty_batch_changes_nothing() -> None:
    ev = AlertEvaluator(AlertRules(min_readings=1))
    assert ev.evaluate(ReadingBatch.empty(), SENSORS) == []
    assert ev.store.states == {} and ev.store.last_us == {}


def test_missing_values_neither_count_nor_break_a_run() -> None:
    ev = AlertEvaluator(AlertRules(min_readings=3))
    (raised,) = ev.evaluate(cols("p", [11.0, math.nan, 11.0, math.nan, 11.0]), SENSORS)
    assert raised.at_us == T0 + 4 * SECOND  # the third reading with a value
    only_nan = cols("p", [math.nan] * 3, start=10)
    assert ev.evaluate(only_nan, SENSORS) == []
    assert ev.store.last_us["p"] == T0 + 4 * SECOND  # readings without value not seen


def test_bad_quality_readings_raise_the_limit_rule() -> None:
    """Validation marks out-of-range values bad; they are what the limit rule is for."""
    n = 3
    batch = ReadingBatch.from_columns(
        T0 + np.arange(n) * SECOND, ["p"] * n, ["pump"] * n, [12.0, 12.5, 13.0], ["bad"] * n
    )
    ev = AlertEvaluator(AlertRules(min_readings=3))
    (raised,) = ev.evaluate(batch, SENSORS)
    assert (raised.rule, raised.kind, raised.value) == (Rule.LIMIT, EventKind.RAISED, 13.0)


def test_unknown_ids_among_known_ones_are_ignored_batch_after_batch() -> None:
    ev = AlertEvaluator(AlertRules(min_readings=2))
    mixed = concat([cols("ghost", [99.0] * 3), cols("p", [11.0, 11.0]), cols("ghost2", [1e9])])
    assert kinds(ev.evaluate(mixed, SENSORS)) == [("limit", "raised")]
    # the same ids again, a sensor registered since: it is evaluated from then on
    later = concat([cols("ghost", [99.0] * 2, start=10), cols("p", [5.0, 5.0], start=10)])
    ghost = Sensor("ghost", "pump", "Ghost", "pressure", "bar", None, 10.0)
    events = ev.evaluate(later, {**SENSORS, "ghost": ghost})
    assert sorted((e.sensor_id, str(e.kind)) for e in events) == [
        ("ghost", "raised"),
        ("p", "cleared"),
    ]


def test_a_stored_state_is_found_among_many_sensors() -> None:
    """One alert seeded, a batch of several sensors: it clears on its own sensor only."""
    ev = AlertEvaluator(AlertRules(min_readings=2))
    ev.store.seed_active("temp", Rule.LIMIT, "alert-t", Severity.CRITICAL, 120.0)
    batch = concat([cols("vib", [5.0, 5.0]), cols("temp", [20.0, 20.0]), cols("p", [1.0, 1.0])])
    (cleared,) = ev.evaluate(batch, SENSORS)
    assert (cleared.sensor_id, cleared.alert_id, cleared.rule) == ("temp", "alert-t", Rule.LIMIT)
    assert ev.store.states == {}


def describe(events: list) -> list[tuple]:
    return sorted((e.sensor_id, str(e.rule), str(e.kind), e.at_us, e.value) for e in events)


@settings(max_examples=100, deadline=None)
@given(
    a=values_st,
    b=values_st,
    p=values_st,
    seed=st.integers(0, 2**32 - 1),
    cut=st.integers(0, 240),
    gaps=st.lists(st.booleans(), max_size=240),
)
def test_the_order_of_readings_in_a_batch_does_not_matter(
    a: list[float], b: list[float], p: list[float], seed: int, cut: int, gaps: list[bool]
) -> None:
    """Grouped by sensor, interleaved in time or shuffled, with NaN and unknown ids in
    between: the same alert changes."""
    rules = AlertRules(min_readings=2, warning_fraction=BAND)
    parts = [cols("vib", a), cols("temp", [x * 7 - 20 for x in b]), cols("p", [x / 2 for x in p])]
    parts.append(cols("nobody", [1e9] * 5))
    grouped = concat(parts)
    for i, gap in enumerate(gaps[: len(grouped.value)]):
        if gap:
            grouped.value[i] = math.nan
    by_time = take(grouped, np.argsort(grouped.ts, kind="stable"))
    shuffled = take(grouped, np.random.default_rng(seed).permutation(len(grouped.ts)))
    results = []
    for batch in (grouped, by_time, shuffled):
        ev = AlertEvaluator(rules)
        split = T0 + cut * SECOND  # two batches, the cut in time
        first = take(batch, np.flatnonzero(batch.ts < split))
        rest = take(batch, np.flatnonzero(batch.ts >= split))
        results.append(describe(ev.evaluate(first, SENSORS) + ev.evaluate(rest, SENSORS)))
    assert results[0] == results[1] == results[2]


def store_view(ev: AlertEvaluator, ids: dict[str, int]) -> tuple[dict, dict]:
    """The rule states (alert ids by order of appearance) and the newest readings."""
    states = {
        k: (st.active, st.run, st.run_start_us if st.run else 0, ids.get(st.alert_id or ""),
            st.severity)
        for k, st in ev.store.states.items()
    }  # fmt: skip
    return states, dict(ev.store.last_us)


reading_st = st.tuples(
    st.sampled_from(["vib", "temp", "p", "nobody"]),
    st.integers(0, 40),  # seconds: duplicates and disorder welcome
    st.one_of(st.sampled_from([-30.0, -1.0, 0.5, 5.0, 10.0, 17.9, 18.5, 19.5, 25.0, 130.0]),
              st.just(math.nan)),
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(
    batches=st.lists(st.lists(reading_st, max_size=40), min_size=1, max_size=4),
    need=st.integers(1, 3),
    dur=st.sampled_from([0, 0, 3]),
    band=st.sampled_from([None, BAND]),
    seeded=st.booleans(),
)
def test_the_step_per_reading_and_the_scan_give_the_same_alerts(
    batches: list, need: int, dur: int, band: float | None, seeded: bool
) -> None:
    rules = AlertRules(min_readings=need, min_duration_s=dur, warning_fraction=band)
    evs = [AlertEvaluator(rules, levels={"p": (None, 8.0)}) for _ in range(2)]
    evs[0]._mode, evs[1]._mode = "vectorised", "stepwise"
    for ev in evs:
        if seeded:  # a rule without levels for the sensor: the alert only clears
            ev.store.seed_active("vib", Rule.WARNING, "alert-v", Severity.WARNING, 18.0)
    alert_ids: list[dict[str, int]] = [{}, {}]
    for readings in batches:
        batch = Cols(
            ts=np.array([T0 + t * SECOND for _, t, _ in readings], dtype=np.int64),
            sensor_id=np.array([s for s, _, _ in readings], dtype=object),
            asset_id=np.array(["pump"] * len(readings), dtype=object),
            value=np.array([v for _, _, v in readings], dtype=np.float64),
        )
        got = []
        for ev, ids in zip(evs, alert_ids, strict=True):
            events = ev.evaluate(batch, SENSORS)
            got.append(
                [
                    (
                        e.kind,
                        ids.setdefault(e.alert_id, len(ids)),
                        e.rule,
                        e.sensor_id,
                        e.asset_id,
                        e.severity,
                        e.at_us,
                        e.value,
                        e.threshold,
                        e.message,
                    )
                    for e in events
                ]  # fmt: skip
            )
        assert got[0] == got[1]
        assert store_view(evs[0], alert_ids[0]) == store_view(evs[1], alert_ids[1])


def test_a_changed_sensor_definition_or_level_applies_from_the_next_batch() -> None:
    ev = AlertEvaluator(AlertRules(min_readings=1))
    vib = Sensor("vib", "pump", "Vibration", "vibration", "mm/s", 0.0, 20.0, warn_high=18.0)
    assert ev.evaluate(cols("vib", [12.0]), {"vib": vib}) == []
    lower = Sensor("vib", "pump", "Vibration", "vibration", "mm/s", 0.0, 20.0, warn_high=10.0)
    (raised,) = ev.evaluate(cols("vib", [12.0], start=1), {"vib": lower})
    assert (raised.rule, raised.threshold) == (Rule.WARNING, 10.0)
    ev.levels["vib"] = (None, 15.0)  # the evaluator's own level replaces the sensor's
    (cleared,) = ev.evaluate(cols("vib", [12.0], start=2), {"vib": lower})
    assert cleared.kind is EventKind.CLEARED
    ev.rules = AlertRules(min_readings=1, rules=(Rule.LIMIT,))
    assert kinds(ev.evaluate(cols("vib", [25.0], start=3), {"vib": lower})) == [("limit", "raised")]
