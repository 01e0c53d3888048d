"""The compiled RK4 path agrees with the vectorised one, model by model."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.errors import ValidationError
from sim import MODELS, Cancelled, Event, InputSeries, cancel_on, get_model, rk4
from sim.fastpath import kernel_available

CASES = {
    "pump": (
        {
            "speed_setpoint_rpm": InputSeries.steps([0, 7.3], [2500.0, 2900.0]),
            "inlet_pressure_bar": InputSeries.ramp(1.0, 0.8, 20.0),
        },
        {"wear": 0.3},
        0.01,
    ),
    "tank": (
        {
            "inflow_m3h": InputSeries((0, 30, 60), (150.0, 0.0, 400.0), "linear"),
            "outflow_demand_m3h": InputSeries.steps([0, 45], [2500.0, 100.0]),
        },
        {"area_m2": 2.0},
        0.5,
    ),
    "motor_thermal": ({"speed_rpm": InputSeries.ramp(0.0, 2900.0, 600.0)}, {"wear": 0.5}, 5.0),
    "hvac_zone": (
        {"occupancy": InputSeries.steps([0, 3600], [0.0, 40.0]), "solar_w_m2": 300.0},
        {},
        60.0,
    ),
    "valve": ({"command": InputSeries.steps([0, 3.0], [0.2, 1.5])}, {}, 0.1),
}


def test_every_model_has_a_kernel() -> None:
    assert sorted(CASES) == sorted(MODELS)
    assert all(kernel_available(m) for m in MODELS.values())


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiled_matches_vectorised(name: str) -> None:
    m = get_model(name)
    inputs, overrides, dt = CASES[name]
    rng = np.random.default_rng(7)
    batch = 3
    p = np.repeat(m.param_vector(overrides)[None], batch, axis=0)
    lo, hi = m.parameters[-1].bounds
    p[:, -1] = np.clip(p[:, -1] * rng.uniform(0.8, 1.2, batch), lo, hi)
    x0 = np.repeat(m.state_vector()[None], batch, axis=0) * rng.uniform(0.9, 1.1, (batch, 1))
    horizon = 1000 * dt + dt / 3  # a shortened last step
    runs = [
        rk4(m, x0, horizon_s=horizon, dt=dt, inputs=inputs, params=p, record_every=7, path=path)
        for path in ("vector", "compiled")
    ]
    np.testing.assert_allclose(runs[1].times, runs[0].times)
    np.testing.assert_allclose(runs[1].states, runs[0].states, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(runs[1].outputs, runs[0].outputs, rtol=1e-12, atol=1e-9)
    assert runs[1].steps == runs[0].steps


def test_per_scenario_inputs_and_shared_params() -> None:
    m = get_model("pump")
    inputs = [{"speed_setpoint_rpm": s} for s in (2000.0, 2500.0, 2900.0)]
    x0 = np.repeat(m.state_vector()[None], 3, axis=0)
    a, b = (
        rk4(m, x0, horizon_s=30.0, dt=0.05, inputs=inputs, record_every=50, path=path)
        for path in ("vector", "compiled")
    )
    np.testing.assert_allclose(b.outputs, a.outputs, rtol=1e-12)
    assert b.output("speed_rpm")[-1, 0] < b.output("speed_rpm")[-1, 2]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e4, allow_nan=False), min_size=3, max_size=3),
    st.lists(st.floats(-10, 3e3, allow_nan=False), min_size=4, max_size=4),
    st.sampled_from([1.0, 1.5, 50.0, 1000.0]),  # valve trim: linear .. equal percentage
)
def test_pump_kernel_equals_rhs(x: list[float], u: list[float], rangeability: float) -> None:
    m = get_model("pump")
    p = m.param_vector({"wear": 0.4, "valve_rangeability": rangeability})[None]
    prep = m.prepare(p)
    c = np.array([float(np.asarray(a).ravel()[0]) for a in prep])
    dx = np.empty(3)
    type(m).kernel(0.0, np.array(x), np.array(u), c, dx)
    np.testing.assert_allclose(dx, m.rhs(0.0, np.array([x]), np.array([u]), prep)[0], rtol=1e-12)


def test_auto_takes_the_compiled_path_and_falls_back_for_events() -> None:
    m = get_model("tank")
    low = Event("low", "level_m", 1.0, "falling")
    u = {"inflow_m3h": 0.0, "outflow_demand_m3h": 300.0}
    tr = rk4(m, [2.0, 0, 0], horizon_s=3600.0, dt=2.0, inputs=u, events=[low], record_every=5)
    assert tr.events and tr.events[0].time_s == pytest.approx(600.0, abs=1e-6)
    with pytest.raises(ValidationError):
        rk4(m, [2.0, 0, 0], horizon_s=10.0, dt=1.0, events=[low], path="compiled")
    with pytest.raises(ValidationError):
        rk4(m, [2.0, 0, 0], horizon_s=10.0, dt=1.0, path="fast")


def test_compiled_divergence_and_cancellation() -> None:
    m = get_model("pump")
    with pytest.raises(ValidationError, match="diverged"):
        rk4(m, m.state_vector(), horizon_s=50.0, dt=5.0, record_every=1, path="compiled")
    stop = threading.Event()
    seen: list[float] = []

    def progress(f: float) -> None:
        seen.append(f)
        if f > 0.2:
            stop.set()

    with pytest.raises(Cancelled):
        rk4(m, m.state_vector(), horizon_s=3600.0, dt=0.01, progress=cancel_on(stop, progress))
    assert seen and seen[-1] < 1.0
