"""The compiled Dormand–Prince 5(4) integrator: analytic solutions, agreement with RK4,
step rejection, per-scenario steps, failures as coded errors, and how scenarios pick it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from graph.errors import ValidationError
from sim import Event, InputSeries, Scenario, dopri5, get_model, rk4, run_scenario
from sim.dopri import integrate
from sim.engine import Limits
from sim.inputs import InputSchedule
from sim.model import InputSpec, Model, OutputSpec, ParamSpec, StateSpec


class Decay(Model):
    """dx/dt = -k (x - u): exponential approach to the input."""

    name = "test_decay"
    description = "first-order lag"
    states = (StateSpec("x", "1", "the state", 1.0),)
    inputs = (InputSpec("u", "1", "the target", 0.0),)
    parameters = (ParamSpec("k", "1/s", "rate", 1.0, (1e-6, 1e6)),)
    outputs = (OutputSpec("x", "1", "the state"),)

    @staticmethod
    def kernel(t: float, x: Any, u: Any, c: Any, dx: Any) -> None:
        dx[0] = -c[0] * (x[0] - u[0])

    def prepare(self, p: np.ndarray) -> Any:
        return (p[:, 0],)

    def rhs(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        return (-prep[0] * (x[:, 0] - u[:, 0]))[:, None]

    def observe(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        return x[:, :1].copy()


class Oscillator(Model):
    """x'' = -w^2 x as two states."""

    name = "test_oscillator"
    description = "harmonic oscillator"
    states = (StateSpec("x", "m", "position", 1.0), StateSpec("v", "m/s", "velocity", 0.0))
    inputs = ()
    parameters = (ParamSpec("w", "rad/s", "angular frequency", 1.0, (1e-3, 1e3)),)
    outputs = (OutputSpec("x", "m", "position"),)

    @staticmethod
    def kernel(t: float, x: Any, u: Any, c: Any, dx: Any) -> None:
        dx[0] = x[1]
        dx[1] = -c[0] * c[0] * x[0]

    def prepare(self, p: np.ndarray) -> Any:
        return (p[:, 0],)

    def rhs(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        return np.stack([x[:, 1], -(prep[0] ** 2) * x[:, 0]], axis=1)

    def observe(self, t: float, x: np.ndarray, u: np.ndarray, prep: Any) -> np.ndarray:
        return x[:, :1].copy()


DECAY = Decay()
OSC = Oscillator()


def test_exponential_decay_matches_the_analytic_solution_through_an_input_step() -> None:
    # u jumps 0 -> 2 at t = 3 s: x = e^-kt before, 2 + (x(3) - 2) e^-k(t-3) after
    k = 0.7
    u = {"u": InputSeries.steps([0.0, 3.0], [0.0, 2.0])}
    tr = dopri5(
        DECAY,
        [1.0],
        horizon_s=10.0,
        output_every_s=0.25,
        inputs=u,
        params=[k],
        rtol=1e-8,
        atol=1e-10,
    )
    t = tr.times
    x3 = math.exp(-k * 3.0)
    exact = np.where(t <= 3.0, np.exp(-k * t), 2.0 + (x3 - 2.0) * np.exp(-k * (t - 3.0)))
    assert t[0] == 0.0 and t[-1] == 10.0 and t.size == 41
    np.testing.assert_allclose(tr.state("x")[:, 0], exact, rtol=1e-7, atol=1e-9)
    np.testing.assert_array_equal(tr.output("x"), tr.state("x"))


@pytest.mark.parametrize("rtol", [1e-4, 1e-7, 1e-10])
def test_harmonic_oscillator_error_follows_the_tolerance(rtol: float) -> None:
    w = 2.0
    tr = dopri5(
        OSC, [1.0, 0.0], horizon_s=20.0, output_every_s=0.1, params=[w], rtol=rtol, atol=rtol
    )
    err = np.max(np.abs(tr.state("x")[:, 0] - np.cos(w * tr.times)))
    # global error over ~6 periods: within a small multiple of the tolerance, and real
    # accuracy (the dense output between steps included)
    assert err < 50 * rtol, err
    assert tr.steps > 0


def test_tighter_tolerance_takes_more_steps_and_is_more_accurate() -> None:
    runs = [
        dopri5(OSC, [1.0, 0.0], horizon_s=20.0, output_every_s=0.5, rtol=r, atol=r)
        for r in (1e-5, 1e-9)
    ]
    errs = [np.max(np.abs(r.state("x")[:, 0] - np.cos(r.times))) for r in runs]
    assert runs[1].steps > 3 * runs[0].steps
    assert errs[1] < errs[0] / 100


def _pump_what_if() -> dict[str, Any]:
    pump = get_model("pump")
    return {
        "x0": pump.state_vector({"speed_rpm": 2500.0, "flow_m3h": 120.0, "bearing_temp_c": 40.0}),
        "params": pump.param_vector({"wear": 0.3}),
        "inputs": {
            "speed_setpoint_rpm": 2900.0,
            "inlet_pressure_bar": InputSeries.ramp(1.0, 0.8, 600.0),
            "valve_opening": InputSeries.steps([0.0, 200.0], [1.0, 0.6]),
        },
    }


def test_matches_the_rk4_path_on_a_pump_scenario() -> None:
    pump = get_model("pump")
    w = _pump_what_if()
    fixed = rk4(
        pump,
        w["x0"],
        horizon_s=600.0,
        dt=0.01,
        inputs=w["inputs"],
        params=w["params"],
        record_every=500,
    )
    adaptive = dopri5(
        pump,
        w["x0"],
        horizon_s=600.0,
        output_every_s=5.0,
        inputs=w["inputs"],
        params=w["params"],
        rtol=1e-9,
        atol=1e-9,
    )
    np.testing.assert_array_equal(fixed.times, adaptive.times)
    np.testing.assert_allclose(adaptive.outputs, fixed.outputs, rtol=1e-7, atol=1e-7)
    # far fewer steps than the 60,000 of RK4 at 10 ms
    assert adaptive.steps < 60_000 / 10


def test_stiff_transient_rejects_steps_and_stays_accurate() -> None:
    # a fast lag (k = 200/s) driven by a slowly ramping target: the step grows past the
    # explicit method's stability limit, errors blow up, steps are rejected and shrunk
    k = 200.0
    schedule = InputSchedule.build(DECAY, {"u": InputSeries.ramp(0.0, 1.0, 50.0)})
    times = np.linspace(0.0, 50.0, 51)
    xs = np.full((51, 1, 1), np.nan)
    xs[0] = 1.0
    stats = integrate(
        DECAY,
        np.array([[1.0]]),
        np.array([[k]]),
        schedule,
        times=times,
        xs=xs,
        rtol=1e-6,
        atol=1e-8,
        max_step=math.inf,
        max_steps=100_000,
        chunk_values=1_000_000,
        progress=None,
    )
    assert stats.rejected[0] > 0
    assert stats.evaluations[0] >= 6 * (stats.accepted[0] + stats.rejected[0])
    # after the initial transient x follows the ramp with a lag of 1/k: x = r(t) - r'/k
    late = times > 1.0
    exact = times[late] / 50.0 - (1.0 / 50.0) / k
    np.testing.assert_allclose(xs[late, 0, 0], exact, atol=1e-5)


def test_each_scenario_takes_its_own_steps() -> None:
    ks = np.array([[0.01], [1.0], [50.0]])
    schedule = InputSchedule.build(DECAY, None)
    times = np.linspace(0.0, 20.0, 5)
    xs = np.full((5, 3, 1), np.nan)
    xs[0] = 1.0
    stats = integrate(
        DECAY,
        np.ones((3, 1)),
        ks,
        schedule,
        times=times,
        xs=xs,
        rtol=1e-8,
        atol=1e-10,
        max_step=math.inf,
        max_steps=100_000,
        chunk_values=1_000_000,
        progress=None,
    )
    assert stats.accepted[0] < stats.accepted[1] < stats.accepted[2]
    np.testing.assert_allclose(xs[:, :, 0], np.exp(-times[:, None] * ks[:, 0]), atol=1e-8)


def test_too_many_steps_is_a_coded_error_and_progress_is_reported() -> None:
    seen: list[float] = []
    with pytest.raises(ValidationError, match="more steps than allowed"):
        dopri5(
            OSC,
            [1.0, 0.0],
            horizon_s=1000.0,
            output_every_s=1.0,
            params=[50.0],
            rtol=1e-10,
            atol=1e-10,
            limits=Limits(max_steps=1000),
        )
    dopri5(DECAY, np.ones((100, 1)), horizon_s=10.0, output_every_s=1.0, progress=seen.append)
    assert seen and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad", [{"rtol": 0.0}, {"rtol": 1.0}, {"atol": -1.0}, {"atol": math.nan}, {"max_step": 0.0}]
)
def test_bad_tolerances_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        dopri5(DECAY, [1.0], horizon_s=1.0, output_every_s=0.5, **bad)


def test_scenarios_pick_dopri5_unless_a_step_or_events_ask_for_rk4() -> None:
    assert Scenario(model="pump").solver == "dopri5"
    assert Scenario(model="pump", step_s=0.05).solver == "rk4"
    hot = Event("hot", "bearing_temp_c", 90.0)
    assert Scenario(model="pump", events=(hot,)).solver == "rk4"
    assert Scenario(model="pump", method="rk4").step == 0.1
    for bad in (
        {"method": "dopri5", "step_s": 0.1},
        {"method": "dopri5", "events": (hot,)},
        {"method": "euler"},
        {"rtol": 0.0},
        {"rtol": 0.5},
        {"atol": -1e-6},
        {"output_every_s": 0.0},
    ):
        with pytest.raises(ValidationError):
            Scenario(model="pump", **bad)  # type: ignore[arg-type]


def test_a_default_scenario_runs_dopri5_and_agrees_with_a_fine_rk4_run() -> None:
    base: dict[str, Any] = {
        "model": "pump",
        "initial_state": {"speed_rpm": 2400.0, "flow_m3h": 100.0},
        "inputs": {"speed_setpoint_rpm": 2900.0},
        "horizon_s": 120.0,
        "output_every_s": 1.0,
    }
    adaptive = run_scenario(Scenario(**base, rtol=1e-8, atol=1e-8))
    fixed = run_scenario(Scenario(**base, step_s=0.005))
    np.testing.assert_array_equal(adaptive.times, fixed.times)
    for name, series in fixed.outputs.items():
        np.testing.assert_allclose(adaptive.outputs[name], series, rtol=1e-7, atol=1e-7)
