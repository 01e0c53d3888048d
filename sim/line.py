"""Production line: a discrete-event simulation of a serial line (simpy).

Stations in series with finite buffers between them; the first station never starves
(raw material is always there) and the last never blocks (finished goods leave).
Blocking is *after service*: a station that finishes a part holds it until the next
buffer has room. Cycle times are lognormal with the station's mean and coefficient of
variation (deterministic at cv = 0). Failures are operation-dependent: a station fails
after an exponential amount of *busy* time with mean MTBF, and is repaired in an
exponential time with mean MTTR.

Each station draws from its own random streams (cycle times, failures), seeded from the
run's seed, so two runs that differ in one station's speed see the same randomness
elsewhere (common random numbers): ``find_bottleneck`` measures the throughput gained by
speeding each station up in turn, replication by replication, and ranks stations by it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import simpy

from graph.errors import ValidationError
from sim.events import Progress

__all__ = [
    "BottleneckResult",
    "LineConfig",
    "LineResult",
    "Station",
    "StationGain",
    "StationStats",
    "find_bottleneck",
    "simulate_line",
]

MAX_PARTS = 20_000_000


def _positive(value: float | None, what: str) -> None:
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ValidationError(f"{what} must be a positive number of seconds, got {value}")


@dataclass(frozen=True, slots=True)
class Station:
    """``cycle_time_s`` mean, ``cycle_time_cv`` its variability; MTBF/MTTR in seconds."""

    name: str
    cycle_time_s: float
    cycle_time_cv: float = 0.0
    mtbf_s: float | None = None
    mttr_s: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValidationError("a station needs a name")
        _positive(self.cycle_time_s, f"station {self.name!r} cycle_time_s")
        _positive(self.mtbf_s, f"station {self.name!r} mtbf_s")
        _positive(self.mttr_s, f"station {self.name!r} mttr_s")
        if not (math.isfinite(self.cycle_time_cv) and 0 <= self.cycle_time_cv <= 5):
            raise ValidationError(f"station {self.name!r} cycle_time_cv must be in 0..5")
        if (self.mtbf_s is None) != (self.mttr_s is None):
            raise ValidationError(f"station {self.name!r}: give both mtbf_s and mttr_s or neither")

    @property
    def fails(self) -> bool:
        return self.mtbf_s is not None


@dataclass(frozen=True, slots=True)
class LineConfig:
    """Stations in flow order and the capacity of each buffer between two of them."""

    stations: tuple[Station, ...]
    buffers: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "stations", tuple(self.stations))
        object.__setattr__(self, "buffers", tuple(self.buffers))
        if not self.stations:
            raise ValidationError("a line needs at least one station")
        names = [s.name for s in self.stations]
        if len(set(names)) != len(names):
            raise ValidationError("station names must be unique")
        if len(self.buffers) != len(self.stations) - 1:
            raise ValidationError(
                f"{len(self.stations)} stations need {len(self.stations) - 1} buffers, "
                f"got {len(self.buffers)}"
            )
        for b in self.buffers:
            if isinstance(b, bool) or not isinstance(b, int) or b < 1:
                raise ValidationError(f"buffer capacities must be integers >= 1, got {b!r}")


@dataclass(frozen=True, slots=True)
class StationStats:
    """Fractions of the measured window (they sum to 1) and parts finished."""

    utilisation: float
    blocked: float
    starved: float
    down: float
    parts: int


@dataclass(frozen=True, slots=True)
class LineResult:
    throughput_per_hour: float
    parts: int
    hours: float
    stations: dict[str, StationStats]


class _Draws:
    """Block-drawn standard variates from one stream (fast, and reproducible)."""

    def __init__(self, rng: np.random.Generator, kind: str, cv: float = 0.0) -> None:
        self.rng, self.kind, self.cv = rng, kind, cv
        self.block: Iterator[float] = iter(())

    def _refill(self) -> Iterator[float]:
        if self.kind == "exp":
            return iter(self.rng.standard_exponential(4096).tolist())
        sigma2 = math.log1p(self.cv * self.cv)
        return iter(np.exp(self.rng.normal(-sigma2 / 2, math.sqrt(sigma2), 4096)).tolist())

    def __call__(self) -> float:
        if self.kind == "lognormal" and self.cv == 0:
            return 1.0
        for value in self.block:
            return value
        self.block = self._refill()
        return next(self.block)


def _check_hours(config: LineConfig, hours: float, warmup_hours: float) -> None:
    if not (math.isfinite(hours) and hours > 0) or not (
        math.isfinite(warmup_hours) and warmup_hours >= 0
    ):
        raise ValidationError("hours must be > 0 and warmup_hours >= 0")
    fastest = min(s.cycle_time_s for s in config.stations)
    if (hours + warmup_hours) * 3600 / fastest * len(config.stations) > MAX_PARTS:
        raise ValidationError(f"run too long: more than {MAX_PARTS} station cycles")


def simulate_line(
    config: LineConfig,
    hours: float,
    seed: int = 0,
    *,
    warmup_hours: float = 0.0,
    progress: Progress | None = None,
) -> LineResult:
    """Run the line for ``warmup_hours + hours``; statistics cover the last ``hours``."""
    _check_hours(config, hours, warmup_hours)
    env = simpy.Environment()
    start, end = warmup_hours * 3600.0, (warmup_hours + hours) * 3600.0
    n = len(config.stations)
    buffers = [simpy.Container(env, capacity=c) for c in config.buffers]
    spent = np.zeros((n, 4))  # busy, blocked, starved, down within the window
    parts = np.zeros(n, dtype=np.int64)
    streams = np.random.SeedSequence(seed).spawn(n)

    current = [(2, 0.0)] * n  # per station: (activity, since when)

    def account(i: int, what: int, a: float, b: float) -> None:
        overlap = min(b, end) - max(a, start)
        if overlap > 0:
            spent[i, what] += overlap

    def mark(i: int, what: int) -> None:
        """Close the station's current activity and start ``what`` (0 busy, 1 blocked,
        2 starved, 3 down)."""
        was, since = current[i]
        account(i, was, since, env.now)
        current[i] = (what, env.now)

    def station(i: int, spec: Station) -> simpy.events.ProcessGenerator:
        cycle_rng, fail_rng = (np.random.default_rng(s) for s in streams[i].spawn(2))
        cycle = _Draws(cycle_rng, "lognormal", spec.cycle_time_cv)
        fail = _Draws(fail_rng, "exp")
        to_failure = fail() * spec.mtbf_s if spec.fails else math.inf  # type: ignore[operator]
        while True:
            if i > 0:
                mark(i, 2)
                yield buffers[i - 1].get(1)
            mark(i, 0)
            work = cycle() * spec.cycle_time_s
            while work > 0:
                if to_failure <= work:
                    yield env.timeout(to_failure)
                    work -= to_failure
                    mark(i, 3)
                    yield env.timeout(fail() * spec.mttr_s)  # type: ignore[operator]
                    mark(i, 0)
                    to_failure = fail() * spec.mtbf_s  # type: ignore[operator]
                else:
                    yield env.timeout(work)
                    to_failure -= work
                    work = 0.0
            if start <= env.now < end:
                parts[i] += 1
            if i < n - 1:
                mark(i, 1)
                yield buffers[i].put(1)

    for i, spec in enumerate(config.stations):
        env.process(station(i, spec))
    chunks = 20
    for k in range(1, chunks + 1):
        env.run(until=end * k / chunks)
        if progress is not None:
            progress(k / chunks)
    for i, (was, since) in enumerate(current):
        account(i, was, since, end)
    window = end - start
    stats = {
        spec.name: StationStats(
            utilisation=float(spent[i, 0] / window),
            blocked=float(spent[i, 1] / window),
            starved=float(spent[i, 2] / window),
            down=float(spent[i, 3] / window),
            parts=int(parts[i]),
        )
        for i, spec in enumerate(config.stations)
    }
    return LineResult(
        throughput_per_hour=float(parts[-1] / hours),
        parts=int(parts[-1]),
        hours=float(hours),
        stations=stats,
    )


@dataclass(frozen=True, slots=True)
class StationGain:
    """Throughput gained by speeding the station up: mean over paired replications."""

    units_per_hour: float
    percent: float
    stderr: float


@dataclass(frozen=True, slots=True)
class BottleneckResult:
    station: str
    baseline_throughput_per_hour: float
    gains: dict[str, StationGain]
    speedup: float
    replications: int


def find_bottleneck(
    config: LineConfig,
    hours: float,
    seed: int = 0,
    *,
    speedup: float = 0.1,
    replications: int = 3,
    warmup_hours: float = 0.0,
    progress: Progress | None = None,
) -> BottleneckResult:
    """Cut each station's mean cycle time by ``speedup`` in turn; the bottleneck is the
    one whose speed-up raises throughput most. Replication ``r`` uses seed ``seed + r`` in
    every variant, so differences are paired (common random numbers)."""
    if not (math.isfinite(speedup) and 0 < speedup < 1):
        raise ValidationError("speedup must be a fraction in (0, 1)")
    if not isinstance(replications, int) or not 1 <= replications <= 1000:
        raise ValidationError("replications must be an integer in 1..1000")
    _check_hours(config, hours, warmup_hours)
    n = len(config.stations)
    runs = replications * (n + 1)
    done = 0

    def run(cfg: LineConfig, r: int) -> float:
        nonlocal done
        out = simulate_line(cfg, hours, seed + r, warmup_hours=warmup_hours)
        done += 1
        if progress is not None:
            progress(done / runs)
        return out.throughput_per_hour

    base = np.array([run(config, r) for r in range(replications)])
    gains: dict[str, StationGain] = {}
    for i, spec in enumerate(config.stations):
        faster = replace(spec, cycle_time_s=spec.cycle_time_s * (1 - speedup))
        variant = replace(
            config, stations=(*config.stations[:i], faster, *config.stations[i + 1 :])
        )
        diff = np.array([run(variant, r) for r in range(replications)]) - base
        mean = float(diff.mean())
        gains[spec.name] = StationGain(
            units_per_hour=mean,
            percent=100.0 * mean / float(base.mean()) if base.mean() > 0 else math.nan,
            stderr=float(diff.std(ddof=1) / math.sqrt(replications))
            if replications > 1
            else math.nan,
        )
    best = max(gains, key=lambda name: gains[name].units_per_hour)
    return BottleneckResult(
        station=best,
        baseline_throughput_per_hour=float(base.mean()),
        gains=gains,
        speedup=speedup,
        replications=replications,
    )
