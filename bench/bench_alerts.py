"""Benchmark: alert rules over batches of readings (``analytics.alerts``).

1. Quiet batches: every sensor in band, no alert changes (the steady state): one
   vectorised round per rule.
2. Busy batches: a share of the sensors cross their warning level and come back within
   the batch (two changes each, so three rounds per rule).
3. The same busy stream through a per-reading Python state machine (the baseline the
   vectorised scan replaces).

Prints readings per second and the peak allocation (tracemalloc, a second pass).

    python bench/bench_alerts.py [--sensors 2000] [--per-sensor 50] [--batches 20]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

import numpy as np

from analytics.alerts import AlertEvaluator, AlertRules
from graph.model import Sensor
from ingest.store import ReadingBatch

T0 = 1_700_000_000_000_000


def make_batches(
    n_sensors: int, per_sensor: int, batches: int, busy: float, seed: int = 0
) -> tuple[dict[str, Sensor], list[ReadingBatch]]:
    rng = np.random.default_rng(seed)
    ids = [f"s{i:06d}" for i in range(n_sensors)]
    sensors = {
        i: Sensor(i, "a", "S", "vibration", "mm/s", 0.0, 20.0, warn_low=2.0, warn_high=18.0)
        for i in ids
    }
    sid = np.repeat(np.array(ids, dtype=object), per_sensor)
    out = []
    for b in range(batches):
        ts = T0 + (b * per_sensor + np.tile(np.arange(per_sensor), n_sensors)) * 1_000_000
        value = 10.0 + rng.normal(0.0, 1.0, sid.size)
        crossing = rng.random(n_sensors) < busy
        if crossing.any():  # the middle third of those sensors' readings above 18
            mid = np.zeros(per_sensor, dtype=bool)
            mid[per_sensor // 3 : 2 * per_sensor // 3] = True
            value[np.repeat(crossing, per_sensor) & np.tile(mid, n_sensors)] = 19.0
        out.append(ReadingBatch.from_columns(ts, sid, ["a"] * sid.size, value, ["good"] * sid.size))
    return sensors, out


def scalar(batches: list[ReadingBatch], sensors: dict[str, Sensor], need: int = 3) -> int:
    state: dict[str, tuple[bool, int]] = {}
    changes = 0
    for b in batches:
        for s, v in zip(b.sensor_id.tolist(), b.value.tolist(), strict=True):
            sen = sensors[s]
            lo, hi = sen.warn_low, sen.warn_high
            active, run = state.get(s, (False, 0))
            cond = (lo + 0.4 <= v <= hi - 0.4) if active else (v > hi or v < lo)
            run = run + 1 if cond else 0
            if run >= need:
                active, run, changes = not active, 0, changes + 1
            state[s] = (active, run)
    return changes


def run(label: str, sensors: dict[str, Sensor], batches: list[ReadingBatch]) -> None:
    n = sum(len(b) for b in batches)
    ev = AlertEvaluator(AlertRules())
    started = time.perf_counter()
    events = sum(len(ev.evaluate(b, sensors)) for b in batches)
    dt = time.perf_counter() - started
    tracemalloc.start()
    ev2 = AlertEvaluator(AlertRules())
    for b in batches:
        ev2.evaluate(b, sensors)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(
        f"{label:<28} {n:>9} readings {dt * 1e3:9.1f} ms  {n / dt:12,.0f} readings/s  "
        f"{events:>6} alert changes  peak {peak / 2**20:6.1f} MiB"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sensors", type=int, default=2000)
    p.add_argument("--per-sensor", type=int, default=50)
    p.add_argument("--batches", type=int, default=20)
    a = p.parse_args()
    sensors, quiet = make_batches(a.sensors, a.per_sensor, a.batches, busy=0.0)
    run("quiet (in band)", sensors, quiet)
    _, busy = make_batches(a.sensors, a.per_sensor, a.batches, busy=0.05)
    run("busy (5% cross and return)", sensors, busy)
    n = sum(len(b) for b in busy)
    started = time.perf_counter()
    changes = scalar(busy, sensors)
    dt = time.perf_counter() - started
    print(
        f"{'scalar baseline, 1 rule':<28} {n:>9} readings {dt * 1e3:9.1f} ms  "
        f"{n / dt:12,.0f} readings/s  {changes:>6} alert changes"
    )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
