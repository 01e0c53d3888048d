"""Benchmark: alert rules over batches of readings (``analytics.alerts``), against a
per-reading Python state machine doing the same job.

Each case runs the same batches (``ingest.store.ReadingBatch``, object arrays of sensor
ids) through

* ``evaluator``: ``AlertEvaluator.evaluate`` (the vectorised scan; batches under
  ``AlertEvaluator.STEPWISE_BELOW`` readings take its step per reading instead),
* ``scalar``: one Python step per reading and rule for the same rules, the thresholds
  of each sensor worked out once for the whole run (the baseline to beat), and
* ``scalar minimal`` (case 3): the earlier baseline, the warning rule alone with none
  of the checks (NaN, replays, unknown sensors) and no event fields,

checks that they produce the same alert changes (the evaluator and ``scalar``: every
field but the generated alert id and the message text; ``scalar minimal``: kind, sensor
and batch), and prints readings per second of each (best of ``--repeat`` runs, the runs
of the contenders taken in turns) and how many times as fast the evaluator is, plus its
peak allocation (tracemalloc, a separate pass).

Cases (1-4 take the sizes from the arguments; 5 and 6 are fixed):

1. quiet: every sensor in band, no alert changes (the steady state), both rules;
2. busy: 5% of the sensors cross their warning level and come back within the batch
   (two changes each), both rules;
3. busy, the warning rule only (the configuration of the earlier one-rule baseline);
4. busy, time-major batches: the sensors interleaved reading by reading, as a poll of
   every sensor per cycle arrives (the others are grouped by sensor);
5. poll cycles: 1,000 sensors, one reading each a batch;
6. small batches: 20 sensors, one reading each a batch (the step per reading).

What it showed where measured (2 cores, shared; figures in ``analytics/alerts.py``):
on the large batches of cases 1-4 the evaluator is several times as fast as either
scalar loop; with one reading per sensor in batches of a thousand (case 5) the scalar
loop is about twice as fast, and on small batches (case 6) three times, since there the
evaluator's cost is per batch and per sensor while the loop keeps everything per sensor
from batch to batch. Figures vary with the machine and its load: rerun.

    python bench/bench_alerts.py [--sensors 2000] [--per-sensor 50] [--batches 20]
                                 [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import resource
import time
import tracemalloc
from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np

from analytics.alerts import AlertEvaluator, AlertEvent, AlertRules, EventKind, Rule, Severity
from graph.model import Sensor
from ingest.store import ReadingBatch

T0 = 1_700_000_000_000_000
T = TypeVar("T")


def make_batches(
    n_sensors: int,
    per_sensor: int,
    batches: int,
    busy: float,
    *,
    time_major: bool = False,
    seed: int = 0,
) -> tuple[dict[str, Sensor], list[ReadingBatch]]:
    rng = np.random.default_rng(seed)
    ids = [f"s{i:06d}" for i in range(n_sensors)]
    sensors = {
        i: Sensor(i, "a", "S", "vibration", "mm/s", 0.0, 20.0, warn_low=2.0, warn_high=18.0)
        for i in ids
    }
    sid = np.repeat(np.array(ids, dtype=object), per_sensor)
    step = np.tile(np.arange(per_sensor), n_sensors)
    mid = np.zeros(per_sensor, dtype=bool)
    mid[per_sensor // 3 : 2 * per_sensor // 3] = True
    order = np.argsort(step, kind="stable") if time_major else None  # time, then sensor
    out = []
    for b in range(batches):
        ts = T0 + (b * per_sensor + step) * 1_000_000
        value = 10.0 + rng.normal(0.0, 1.0, sid.size)
        crossing = rng.random(n_sensors) < busy
        if crossing.any():  # the middle third of those sensors' readings above 18
            value[np.repeat(crossing, per_sensor) & np.tile(mid, n_sensors)] = 19.0
        batch = ReadingBatch.from_columns(ts, sid, ["a"] * sid.size, value, ["good"] * sid.size)
        out.append(batch if order is None else batch.take(order))
    return sensors, out


# ---- the per-reading baseline -----------------------------------------------------------


def _limits(
    rules: AlertRules,
    rule: Rule,
    s: Sensor,
    levels: Mapping[str, tuple[float | None, float | None]],
) -> tuple[float, float, float]:
    """(low, high, hysteresis) of ``rule`` for ``s``, NaN where there is no threshold."""
    nan = math.nan
    lo = nan if s.min_value is None else s.min_value
    hi = nan if s.max_value is None else s.max_value
    span = hi - lo
    hyst = span * rules.hysteresis_fraction if math.isfinite(span) else 0.0
    if rule is Rule.WARNING:
        f = rules.warning_fraction
        lo, hi = (nan, nan) if f is None else (lo + (1 - f) * span, lo + f * span)
        if s.warn_low is not None or s.warn_high is not None:
            lo = nan if s.warn_low is None else s.warn_low
            hi = nan if s.warn_high is None else s.warn_high
        if s.id in levels:
            low, high = levels[s.id]
            lo, hi = (nan if low is None else low), (nan if high is None else high)
    return lo, hi, hyst


def scalar(
    batches: list[ReadingBatch],
    sensors: Mapping[str, Sensor],
    rules: AlertRules,
    levels: Mapping[str, tuple[float | None, float | None]] | None = None,
) -> list[tuple[object, ...]]:
    """The alert changes, one Python step per reading and rule: the same rules as
    ``AlertEvaluator``, for batches whose readings are in time order per sensor (as
    here) and one set of ``sensors`` throughout. Thresholds are worked out once per
    sensor; rules that ignore a sensor are left out of its loop. Per change: ``(kind,
    rule, sensor, asset, 0, severity, threshold, at_us, value, batch number)``."""
    levels = levels or {}
    need, need_us = rules.min_readings, int(round(rules.min_duration_s * 1e6))
    never = -(2**63)
    # per sensor: [last_us before this batch, newest, batch number, sensor, rule states];
    # per rule: [rule, lo, hi, lo + hyst, hi - hyst, active, run, run_start, run_max,
    #            run_min, batch of the run extremes, raised (severity, threshold)]
    recs: dict[str, list] = {}  # type: ignore[type-arg]
    out: list[tuple[object, ...]] = []
    for bn, b in enumerate(batches):
        for s, a, t, v in zip(
            b.sensor_id.tolist(), b.asset_id.tolist(), b.ts.tolist(), b.value.tolist(), strict=True
        ):
            rec = recs.get(s)
            if rec is None:
                sen = sensors.get(s)
                if sen is None:
                    continue
                per_rule = []
                for rule in rules.rules:
                    lo, hi, hyst = _limits(rules, rule, sen, levels)
                    if lo == lo or hi == hi:  # NaN != NaN: the rule ignores this sensor
                        per_rule.append(
                            [rule, lo, hi, lo + hyst, hi - hyst, False, 0, 0, v, v, -1, None]
                        )
                rec = recs[s] = [never, never, bn, sen, per_rule]
            elif rec[2] != bn:
                rec[0], rec[2] = rec[1], bn
            if v != v or t <= rec[0]:
                continue
            if t > rec[1]:
                rec[1] = t
            for st in rec[4]:
                if st[5]:
                    if v > st[4] or v < st[3]:  # not yet back inside
                        st[6] = 0
                        continue
                elif not (v > st[2] or v < st[1]):
                    st[6] = 0
                    continue
                run = st[6] = st[6] + 1
                if run == 1 or st[10] != bn:  # the run's extremes, within this batch
                    st[8] = st[9] = v
                    st[10] = bn
                else:
                    st[8], st[9] = max(st[8], v), min(st[9], v)
                if run == 1:
                    st[7] = t
                if run >= need and t - st[7] >= need_us:
                    rule, sen = st[0], rec[3]
                    if st[5]:
                        out.append((EventKind.CLEARED, rule, s, a, 0, *st[11], t, v, bn))
                        st[11] = None
                    else:
                        st[11] = _raised(rules, rule, sen, v, st[1], st[2], st[8], st[9])
                        out.append(
                            (EventKind.RAISED, rule, s, a or sen.asset_id, 0, *st[11], t, v, bn)
                        )
                    st[5], st[6] = not st[5], 0
    return out


def scalar_minimal(
    batches: list[ReadingBatch], sensors: Mapping[str, Sensor], rules: AlertRules
) -> list[tuple[object, ...]]:
    """The earlier baseline: the warning rule alone, from the registered levels, with
    none of the checks (NaN, replays, unknown sensors, minimum duration) or event
    fields; ``(kind, sensor, batch number)`` per change. A lower bound for a Python loop."""
    need = rules.min_readings
    h = {s: rules.hysteresis_fraction * (x.max_value - x.min_value) for s, x in sensors.items()}  # type: ignore[operator]
    state: dict[str, tuple[bool, int]] = {}
    out: list[tuple[object, ...]] = []
    for bn, b in enumerate(batches):
        for s, v in zip(b.sensor_id.tolist(), b.value.tolist(), strict=True):
            sen = sensors[s]
            lo, hi = sen.warn_low, sen.warn_high
            active, run = state.get(s, (False, 0))
            cond = (lo + h[s] <= v <= hi - h[s]) if active else (v > hi or v < lo)  # type: ignore[operator]
            run = run + 1 if cond else 0
            if run >= need:
                out.append((EventKind.CLEARED if active else EventKind.RAISED, s, bn))
                active, run = not active, 0
            state[s] = (active, run)
    return out


def _raised(
    rules: AlertRules, rule: Rule, s: Sensor, v: float, lo: float, hi: float, mx: float, mn: float
) -> tuple[Severity, float]:
    high = v > hi if math.isfinite(hi) else False
    threshold = float(hi if high else lo)
    severity = Severity.WARNING
    if rule is Rule.LIMIT:
        span = None if s.min_value is None or s.max_value is None else s.max_value - s.min_value
        peak = mx - hi if high else lo - mn
        if span is None or peak >= rules.critical_fraction * span:
            severity = Severity.CRITICAL
    return (severity, threshold)


def as_changes(events: list[AlertEvent], batch: int) -> list[tuple[object, ...]]:
    """The evaluator's events in the form ``scalar`` gives (alert ids as 0, no message)."""
    return [
        (
            e.kind,
            e.rule,
            e.sensor_id,
            e.asset_id,
            0,
            e.severity,
            e.threshold,
            e.at_us,
            e.value,
            batch,
        )
        for e in events
    ]


def _key(c: tuple[object, ...]) -> tuple[object, ...]:
    return (c[2], c[7], c[0] != EventKind.CLEARED, str(c[1]))


# ---- the cases --------------------------------------------------------------------------


def timed(repeat: int, **fns: Callable[[], T]) -> dict[str, tuple[float, T]]:
    """Best time and result of each of ``fns``, their runs taken in turns so that each
    sees the same state of the machine."""
    best: dict[str, tuple[float, T]] = {}
    for _ in range(repeat):
        for name, fn in fns.items():
            started = time.perf_counter()
            result = fn()
            dt = time.perf_counter() - started
            if name not in best or dt < best[name][0]:
                best[name] = (dt, result)
    return best


def case(
    label: str,
    sensors: dict[str, Sensor],
    batches: list[ReadingBatch],
    rules: AlertRules,
    repeat: int,
    *,
    minimal: bool = False,
) -> None:
    n = sum(len(b) for b in batches)

    def evaluator() -> list[tuple[object, ...]]:
        ev = AlertEvaluator(rules)
        return [c for bn, b in enumerate(batches) for c in as_changes(ev.evaluate(b, sensors), bn)]

    fns = {"evaluator": evaluator, "scalar": lambda: scalar(batches, sensors, rules)}
    if minimal:
        fns["scalar minimal"] = lambda: scalar_minimal(batches, sensors, rules)
    best = timed(repeat, **fns)
    got = sorted(best["evaluator"][1], key=_key)
    if got != sorted(best["scalar"][1], key=_key):
        raise SystemExit(f"{label}: the evaluator's and the scalar alert changes differ")
    if minimal:
        brief = sorted(((c[0], c[2], c[-1]) for c in got), key=str)
        if brief != sorted(best["scalar minimal"][1], key=str):
            raise SystemExit(f"{label}: the evaluator's and the minimal scalar changes differ")
    tracemalloc.start()
    evaluator()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rule_names = "+".join(str(r) for r in rules.rules)
    print(f"{label} ({rule_names}), {n:,} readings, {len(got):,} alert changes (equal)")
    dt_v = best["evaluator"][0]
    for name, (dt, _) in best.items():
        line = f"    {name:<15} {dt * 1e3:8.1f} ms {n / dt:12,.0f} readings/s"
        if name == "evaluator":
            line += f"  peak {peak / 2**20:5.1f} MiB"
        else:
            line += f"  evaluator {dt / dt_v:.2f}x as fast"
        print(line)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sensors", type=int, default=2000)
    p.add_argument("--per-sensor", type=int, default=50)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()
    both, warning = AlertRules(), AlertRules(rules=(Rule.WARNING,))
    print(
        f"best of {a.repeat} runs each; {a.batches} batches of {a.sensors} sensors x "
        f"{a.per_sensor} readings"
    )
    sensors, quiet = make_batches(a.sensors, a.per_sensor, a.batches, busy=0.0)
    case("quiet (in band)", sensors, quiet, both, a.repeat)
    _, busy = make_batches(a.sensors, a.per_sensor, a.batches, busy=0.05)
    case("busy (5% cross and return)", sensors, busy, both, a.repeat)
    case("busy (5% cross and return)", sensors, busy, warning, a.repeat, minimal=True)
    _, mixed = make_batches(a.sensors, a.per_sensor, a.batches, busy=0.05, time_major=True)
    case("busy, time-major batches", sensors, mixed, both, a.repeat)
    poll_sensors, poll = make_batches(1_000, 1, 200, busy=0.0, time_major=True)
    case("poll cycles (1,000 x 1 a batch)", poll_sensors, poll, both, a.repeat)
    few_sensors, few = make_batches(20, 1, 2_000, busy=0.0)
    case("small batches (20 x 1 a batch)", few_sensors, few, both, a.repeat)
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
