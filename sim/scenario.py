"""What-if scenarios: start from the twin's readings, override, run, band, compare.

A ``Scenario`` is plain data (picklable, so a job runner can ship it to a worker):
the model, the initial state, parameter overrides, inputs as time series, the horizon,
the integration method and its step or tolerances, and optionally Monte Carlo over
uncertain parameters. ``method="auto"`` (the default) integrates with the compiled
adaptive Dormand–Prince 5(4) at ``rtol``/``atol`` when no step is given, and with
fixed-step RK4 when a step is given, events are watched (the adaptive compiled path
takes none) or the model has no compiled kernel (RK4 then steps at
``DEFAULT_STEP_S``). ``run_scenario`` runs
the nominal case and every sample in one vectorised batch (row 0 is nominal) and returns
the nominal series plus percentile bands over the samples.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from graph.errors import ValidationError
from sim.dopri import dopri5
from sim.engine import DEFAULT_LIMITS, Limits, rk4, solve_adaptive
from sim.events import Event, EventHit, Progress
from sim.fastpath import kernel_available
from sim.inputs import InputSeries
from sim.registry import get_model

__all__ = [
    "DEFAULT_STEP_S",
    "METHODS",
    "ResidualStats",
    "Scenario",
    "ScenarioResult",
    "Uncertain",
    "initial_state_from_readings",
    "residual_stats",
    "residuals",
    "run_scenario",
]

_DISTRIBUTIONS = {"normal": 2, "uniform": 2, "lognormal": 2, "triangular": 3}
MAX_SAMPLES = 10_000
METHODS = ("auto", "dopri5", "rk4", "adaptive")
DEFAULT_STEP_S = 0.1  # RK4's step when the scenario gives none


@dataclass(frozen=True, slots=True)
class Uncertain:
    """A parameter's distribution: ``normal(mean, sd)``, ``uniform(low, high)``,
    ``lognormal(median, sigma_of_log)`` or ``triangular(low, mode, high)``."""

    distribution: str
    args: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "args", tuple(float(a) for a in self.args))
        want = _DISTRIBUTIONS.get(self.distribution)
        if want is None:
            raise ValidationError(f"distribution must be one of {sorted(_DISTRIBUTIONS)}")
        if len(self.args) != want or not all(math.isfinite(a) for a in self.args):
            raise ValidationError(f"{self.distribution} takes {want} finite arguments")
        a = self.args
        bad = (
            (self.distribution == "normal" and a[1] < 0)
            or (self.distribution == "uniform" and a[1] < a[0])
            or (self.distribution == "lognormal" and (a[0] <= 0 or a[1] < 0))
            or (self.distribution == "triangular" and not a[0] <= a[1] <= a[2])
        )
        if bad:
            raise ValidationError(f"invalid {self.distribution} arguments {a}")

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        a = self.args
        if self.distribution == "normal":
            return rng.normal(a[0], a[1], n)
        if self.distribution == "uniform":
            return rng.uniform(a[0], a[1], n)
        if self.distribution == "lognormal":
            return a[0] * np.exp(rng.normal(0.0, a[1], n))
        if a[0] == a[2]:
            return np.full(n, a[0])
        return rng.triangular(a[0], a[1], a[2], n)


@dataclass(frozen=True)
class Scenario:
    """One what-if run. Times are seconds from the start (the twin's "now")."""

    model: str
    initial_state: Mapping[str, float] = field(default_factory=dict)
    parameters: Mapping[str, float] = field(default_factory=dict)
    inputs: Mapping[str, InputSeries | float] = field(default_factory=dict)
    horizon_s: float = 3600.0
    step_s: float | None = None
    output_every_s: float | None = None
    monte_carlo: Mapping[str, Uncertain] = field(default_factory=dict)
    samples: int = 0
    seed: int = 0
    percentiles: tuple[float, ...] = (5.0, 50.0, 95.0)
    events: tuple[Event, ...] = ()
    method: str = "auto"
    rtol: float = 1e-6
    atol: float = 1e-6

    def __post_init__(self) -> None:
        model = get_model(self.model)
        model.state_vector(self.initial_state)
        model.param_vector(self.parameters)
        for name in self.inputs:
            model.index_of("input", name)
        for name, dist in self.monte_carlo.items():
            model.index_of("parameter", name)
            if not isinstance(dist, Uncertain):
                raise ValidationError(f"monte_carlo[{name!r}] must be an Uncertain")
        for ev in self.events:
            ev.resolve(model)
        if self.method not in METHODS:
            raise ValidationError(
                f"method must be one of {', '.join(METHODS)}, got {self.method!r}", path="method"
            )
        for what in ("rtol", "atol"):
            v = getattr(self, what)
            if isinstance(v, bool) or not (
                isinstance(v, int | float) and math.isfinite(v) and v > 0
            ):
                raise ValidationError(f"{what} must be a positive number, got {v!r}", path=what)
        if not 1e-13 <= self.rtol <= 0.1:
            raise ValidationError(f"rtol must lie in [1e-13, 0.1], got {self.rtol}", path="rtol")
        if self.method == "dopri5":
            if self.step_s is not None:
                raise ValidationError(
                    "dopri5 chooses its own steps (rtol, atol): give no step, or method rk4",
                    path="step_s",
                )
            if self.events:
                raise ValidationError(
                    "dopri5 takes no events: use method rk4 (or auto) to watch events",
                    path="method",
                )
            if not kernel_available(model):
                raise ValidationError(
                    f"model {model.name!r} has no compiled kernel for dopri5", path="method"
                )
        if not isinstance(self.samples, int) or not 0 <= self.samples <= MAX_SAMPLES:
            raise ValidationError(f"samples must be an integer in 0..{MAX_SAMPLES}")
        if self.monte_carlo and self.samples < 2:
            raise ValidationError("monte_carlo needs samples >= 2", path="samples")
        if self.samples and not self.monte_carlo:
            raise ValidationError(
                f"samples = {self.samples} needs at least one uncertain parameter "
                "(monte_carlo); without one every sample would repeat the nominal run",
                path="samples",
            )
        if not all(0 <= q <= 100 for q in self.percentiles):
            raise ValidationError("percentiles must lie in 0..100")
        for what in ("horizon_s", "step_s"):
            v = getattr(self, what)
            if v is None and what == "step_s":
                continue
            if not (isinstance(v, int | float) and math.isfinite(v) and v > 0):
                raise ValidationError(f"{what} must be a positive number", path=what)
        if self.output_every_s is not None and not (
            math.isfinite(self.output_every_s)
            and self.output_every_s > 0
            and (self.solver == "dopri5" or self.output_every_s >= self.step)
        ):
            raise ValidationError(
                "output_every_s must be positive and, with a fixed step, at least the step",
                path="output_every_s",
            )

    @property
    def solver(self) -> str:
        """The method that runs: ``auto`` resolved (see the module docstring)."""
        if self.method != "auto":
            return self.method
        fixed = self.step_s is not None or self.events
        return "rk4" if fixed or not kernel_available(get_model(self.model)) else "dopri5"

    @property
    def step(self) -> float:
        """The fixed step of RK4 (and the bound of ``adaptive``'s): given, or the default."""
        return DEFAULT_STEP_S if self.step_s is None else self.step_s

    @property
    def record_every(self) -> int:
        every = self.output_every_s or max(self.step, self.horizon_s / 1000.0)
        return max(1, round(every / self.step))

    @property
    def output_interval_s(self) -> float:
        """Seconds between recorded rows."""
        if self.solver == "dopri5":
            return float(self.output_every_s or self.horizon_s / 1000.0)
        return self.record_every * self.step


@dataclass(frozen=True)
class ScenarioResult:
    """Nominal series, percentile bands over the samples, events, units."""

    model: str
    times: np.ndarray
    outputs: dict[str, np.ndarray]
    states: dict[str, np.ndarray]
    bands: dict[str, dict[float, np.ndarray]]
    events: tuple[EventHit, ...]
    event_probability: dict[str, float]
    samples: int
    clipped_samples: dict[str, int]
    units: dict[str, str]
    parameters: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready plain data (NaN after a terminal event becomes None)."""

        def listed(a: np.ndarray) -> list[float | None]:
            return [None if not math.isfinite(v) else float(v) for v in a]

        return {
            "model": self.model,
            "times": listed(self.times),
            "outputs": {k: listed(v) for k, v in self.outputs.items()},
            "states": {k: listed(v) for k, v in self.states.items()},
            "bands": {k: {str(q): listed(v) for q, v in b.items()} for k, b in self.bands.items()},
            "events": [
                {
                    "event": e.event,
                    "scenario": e.scenario,
                    "time_s": e.time_s,
                    "terminal": e.terminal,
                }
                for e in self.events
            ],
            "event_probability": dict(self.event_probability),
            "samples": self.samples,
            "clipped_samples": dict(self.clipped_samples),
            "units": dict(self.units),
            "parameters": dict(self.parameters),
        }


def _param_matrix(scenario: Scenario) -> tuple[np.ndarray, dict[str, int]]:
    model = get_model(scenario.model)
    nominal = model.param_vector(scenario.parameters)
    if not scenario.monte_carlo:
        return nominal[None], {}
    rng = np.random.default_rng(scenario.seed)
    p = np.repeat(nominal[None], 1 + scenario.samples, axis=0)
    clipped: dict[str, int] = {}
    for name in sorted(scenario.monte_carlo):
        i = model.index_of("parameter", name)
        lo, hi = model.parameters[i].bounds
        draws = scenario.monte_carlo[name].sample(rng, scenario.samples)
        clipped[name] = int(np.count_nonzero((draws < lo) | (draws > hi)))
        p[1:, i] = np.clip(draws, lo, hi)
    return p, clipped


def run_scenario(
    scenario: Scenario, progress: Progress | None = None, limits: Limits = DEFAULT_LIMITS
) -> ScenarioResult:
    """Run the nominal case plus ``samples`` Monte Carlo draws; band the outputs."""
    model = get_model(scenario.model)
    p, clipped = _param_matrix(scenario)
    x0 = np.repeat(model.state_vector(scenario.initial_state)[None], p.shape[0], axis=0)
    if scenario.solver == "dopri5":
        traj = dopri5(
            model,
            x0,
            horizon_s=scenario.horizon_s,
            output_every_s=scenario.output_interval_s,
            inputs=scenario.inputs,
            params=p,
            rtol=scenario.rtol,
            atol=scenario.atol,
            progress=progress,
            limits=limits,
        )
    elif scenario.solver == "rk4":
        traj = rk4(
            model,
            x0,
            horizon_s=scenario.horizon_s,
            dt=scenario.step,
            inputs=scenario.inputs,
            params=p,
            record_every=scenario.record_every,
            events=scenario.events,
            progress=progress,
            limits=limits,
        )
    else:
        traj = solve_adaptive(
            model,
            x0,
            horizon_s=scenario.horizon_s,
            output_every_s=scenario.output_interval_s,
            inputs=scenario.inputs,
            params=p,
            events=scenario.events,
            rtol=scenario.rtol,
            atol=scenario.atol,
            max_step=scenario.output_interval_s,
            progress=progress,
            limits=limits,
        )
    bands: dict[str, dict[float, np.ndarray]] = {}
    probability: dict[str, float] = {}
    if p.shape[0] > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows after events
            for j, name in enumerate(model.output_names):
                qs = np.nanpercentile(traj.outputs[:, 1:, j], scenario.percentiles, axis=1)
                bands[name] = {float(q): qs[k] for k, q in enumerate(scenario.percentiles)}
        for ev in scenario.events:
            n_hit = len({h.scenario for h in traj.events if h.event == ev.name and h.scenario > 0})
            probability[ev.name] = n_hit / scenario.samples
    return ScenarioResult(
        model=model.name,
        times=traj.times,
        outputs={n: traj.outputs[:, 0, j] for j, n in enumerate(model.output_names)},
        states={n: traj.states[:, 0, j] for j, n in enumerate(model.state_names)},
        bands=bands,
        events=traj.events,
        event_probability=probability,
        samples=p.shape[0] - 1,
        clipped_samples=clipped,
        units=model.units(),
        parameters=dict(zip(model.param_names, map(float, p[0]), strict=True)),
    )


def initial_state_from_readings(
    mapping: Mapping[str, str | tuple[str, float, float]],
    latest: Mapping[str, float],
    defaults: Mapping[str, float],
) -> dict[str, float]:
    """Initial state from the latest readings.

    ``mapping`` sends a sensor id to a state name, or to ``(state, scale, offset)`` when
    the sensor's unit differs (``state = scale * reading + offset``). States with no
    mapped reading keep their value from ``defaults`` (which names every state).
    """
    state = dict(defaults)
    for sensor_id, target in mapping.items():
        name, scale, offset = (target, 1.0, 0.0) if isinstance(target, str) else target
        if name not in state:
            raise ValidationError(
                f"sensor {sensor_id!r} maps to unknown state {name!r}; known: {', '.join(state)}",
                path=f"mapping.{sensor_id}",
            )
        if sensor_id not in latest:
            continue
        value = latest[sensor_id]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValidationError(
                f"latest reading of {sensor_id!r} is not a finite number: {value!r}",
                path=f"latest.{sensor_id}",
            )
        state[name] = scale * float(value) + offset
    return state


@dataclass(frozen=True, slots=True)
class ResidualStats:
    """Measured minus simulated, over the ``n`` points inside the simulated span."""

    rmse: float
    bias: float
    max_abs: float
    n: int
    n_outside: int


def residual_stats(
    sim_times: np.ndarray, sim_values: np.ndarray, times: np.ndarray, values: np.ndarray
) -> ResidualStats:
    """Measured ``(times, values)`` minus the simulated series interpolated at ``times``,
    over the measured points inside the simulated span (NaN simulated points, e.g. after
    a terminal event, are left out). Inputs must be finite, 1-D, matching in length."""
    ok = np.isfinite(sim_values)
    st, sv = sim_times[ok], sim_values[ok]
    if st.size:
        inside = (times >= st[0]) & (times <= st[-1])
        r = values[inside] - np.interp(times[inside], st, sv)
    else:
        r = np.empty(0)
    n = int(r.size)
    return ResidualStats(
        rmse=float(np.sqrt(np.mean(r * r))) if n else math.nan,
        bias=float(np.mean(r)) if n else math.nan,
        max_abs=float(np.max(np.abs(r))) if n else math.nan,
        n=n,
        n_outside=int(times.size - n),
    )


def residuals(
    result: ScenarioResult, measured: Mapping[str, tuple[Sequence[float], Sequence[float]]]
) -> dict[str, ResidualStats]:
    """Per output: compare the nominal run with measured ``(times_s, values)``."""
    out: dict[str, ResidualStats] = {}
    for name, (times, values) in measured.items():
        if name not in result.outputs:
            raise ValidationError(
                f"no simulated output {name!r}; known: {', '.join(result.outputs)}",
                path=f"measured.{name}",
            )
        t = np.asarray(times, dtype=float)
        v = np.asarray(values, dtype=float)
        if t.shape != v.shape or t.ndim != 1:
            raise ValidationError(f"measured {name!r}: times and values differ in length")
        if not (np.all(np.isfinite(t)) and np.all(np.isfinite(v))):
            raise ValidationError(f"measured {name!r} holds non-finite times or values")
        out[name] = residual_stats(result.times, result.outputs[name], t, v)
    return out
