"""Engine correctness: convergence order, analytic responses, conservation, events."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest
from scipy.linalg import expm

from graph.errors import ValidationError
from sim import Cancelled, Event, InputSeries, Limits, cancel_on, get_model, rk4, solve_adaptive


def _hvac_exact(t: float) -> np.ndarray:
    """Exact 2R2C response at constant inputs: x_ss + expm(A t)(x0 - x_ss)."""
    m = get_model("hvac_zone")
    p = m.param_vector()[None]
    u = m.input_vector({"outdoor_temp_c": -5.0, "occupancy": 30, "hvac_power_kw": 20.0})[None]
    x0 = m.state_vector({"zone_temp_c": 15.0, "mass_temp_c": 12.0})[None]
    b = m.derivatives(0.0, np.zeros((1, 2)), u, p)[0]
    cols = [m.derivatives(0.0, np.eye(2)[[i]], u, p)[0] - b for i in range(2)]
    a = np.stack(cols, axis=1)
    x_ss = np.linalg.solve(a, -b)
    return x_ss + expm(a * t) @ (x0[0] - x_ss)


def test_rk4_converges_at_fourth_order() -> None:
    m = get_model("hvac_zone")
    horizon = 7200.0
    inputs = {"outdoor_temp_c": -5.0, "occupancy": 30.0, "hvac_power_kw": 20.0}
    x0 = m.state_vector({"zone_temp_c": 15.0, "mass_temp_c": 12.0})
    exact = _hvac_exact(horizon)
    errors = []
    for dt in (400.0, 200.0, 100.0, 50.0):
        tr = rk4(m, x0, horizon_s=horizon, dt=dt, inputs=inputs, record_every=1000)
        errors.append(np.max(np.abs(tr.states[-1, 0] - exact)))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(orders > 3.8), (errors, orders)
    assert abs(orders[-1] - 4.0) < 0.15, (errors, orders)  # asymptotic order


def test_first_order_thermal_matches_analytic_step_response() -> None:
    m = get_model("motor_thermal")
    p = m.param_vector({"wear": 0.5})
    u = {"speed_rpm": 2900.0, "shaft_power_kw": 30.0, "ambient_temp_c": 20.0}
    tr = rk4(m, [20.0], horizon_s=6000.0, dt=5.0, inputs=u, params=p, record_every=12)
    q = 0.3 + 1.2 * 0.5 + 0.05 * (1 / 0.93 - 1) * 30.0
    r, c = 40.0, 30.0
    expected = 20.0 + q * r * (1 - np.exp(-tr.times / (r * c)))
    np.testing.assert_allclose(tr.output("bearing_temp_c")[:, 0], expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(tr.output("heat_kw")[:, 0], q, rtol=1e-12)


def test_tank_conserves_mass_through_changing_flows_and_empty() -> None:
    m = get_model("tank")
    inputs = {
        "inflow_m3h": InputSeries((0, 600, 1200), (150.0, 0.0, 400.0), "linear"),
        "outflow_demand_m3h": InputSeries.steps([0, 900], [250.0, 100.0]),
    }
    x0 = np.array([[1.0, 0.0, 0.0], [0.3, 0.0, 0.0]])  # second one runs dry
    area = m.param_vector()[0]
    tr = rk4(m, x0, horizon_s=1800.0, dt=1.0, inputs=inputs, record_every=10)
    volume = tr.state("level_m") * area
    balance = tr.state("inflow_total_m3") - tr.state("outflow_total_m3")
    np.testing.assert_allclose(volume - volume[0], balance, atol=1e-9)
    assert tr.state("level_m").min() >= 0.0
    assert tr.output("outflow_m3h")[:, 1].min() < 100.0  # the dry tank throttled its outflow


def test_terminal_event_stops_only_its_scenario() -> None:
    m = get_model("tank")
    x0 = np.array([[2.0, 0, 0], [4.0, 0, 0]])
    empty = Event("tank_low", "level_m", 0.5, "falling", terminal=True)
    u = {"inflow_m3h": 0.0, "outflow_demand_m3h": 300.0}
    tr = rk4(m, x0, horizon_s=3600.0, dt=2.0, inputs=u, events=[empty], record_every=5)
    # level falls at 300 / 3600 / 50 m/s: 1.5 m in 900 s, 3.5 m in 2100 s
    times = {h.scenario: h.time_s for h in tr.events}
    assert times[0] == pytest.approx(900.0, abs=1e-6)
    assert times[1] == pytest.approx(2100.0, abs=1e-6)
    assert np.isnan(tr.states[-1]).all()
    assert np.isfinite(tr.states[tr.times < 900.0, 0]).all()
    assert tr.steps == 1050  # stopped once the last scenario ended


def test_terminal_event_exactly_on_a_record_step_records_the_state_there() -> None:
    m = get_model("tank")
    # 3,600 m3/h out of 1 m2: the level falls 1 m/s, exactly 0.5 m per step (RK4 is exact
    # on a constant slope), so it reaches 1.0 m at t = 1 s, a recorded step
    p = m.param_vector({"area_m2": 1.0})
    u = {"inflow_m3h": 0.0, "outflow_demand_m3h": 3600.0}
    low = Event("low", "level_m", 1.0, "falling", terminal=True)
    x0 = np.array([[2.0, 0, 0], [5.0, 0, 0]])  # the second one runs on
    tr = rk4(m, x0, horizon_s=3.0, dt=0.5, inputs=u, params=p, events=[low], record_every=2)
    assert [(h.scenario, h.time_s) for h in tr.events] == [(0, 1.0)]
    np.testing.assert_array_equal(tr.times, [0.0, 1.0, 2.0, 3.0])
    level = tr.state("level_m")[:, 0]
    assert level[1] == pytest.approx(1.0)  # the state at the event, not the step before
    assert tr.output("level_m")[1, 0] == pytest.approx(level[1])
    assert np.isnan(level[2:]).all()
    np.testing.assert_allclose(tr.state("level_m")[:, 1], [5.0, 4.0, 3.0, 2.0])


def test_adaptive_matches_rk4_and_finds_events() -> None:
    m = get_model("pump")
    inputs = {"speed_setpoint_rpm": InputSeries.steps([0, 20], [2900, 2300])}
    hot = Event("flow_low", "flow_m3h", 150.0, "falling", terminal=False)
    a = rk4(
        m, m.state_vector(), horizon_s=60.0, dt=0.01, inputs=inputs, record_every=100, events=[hot]
    )
    b = solve_adaptive(
        m, m.state_vector(), horizon_s=60.0, output_every_s=1.0, inputs=inputs, events=[hot]
    )
    np.testing.assert_allclose(a.outputs, b.outputs, rtol=1e-4, atol=1e-4)
    assert a.events[0].time_s == pytest.approx(b.events[0].time_s, abs=0.01)


def test_cancel_hook_stops_a_run() -> None:
    m = get_model("pump")
    stop = threading.Event()
    seen: list[float] = []

    def progress(f: float) -> None:
        seen.append(f)
        if f > 0.2:
            stop.set()

    with pytest.raises(Cancelled):
        rk4(m, m.state_vector(), horizon_s=100.0, dt=0.01, progress=cancel_on(stop, progress))
    assert 0.2 < seen[-1] < 1.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon_s": 10.0, "dt": 0.0}, "step"),
        ({"horizon_s": -1.0, "dt": 0.1}, "horizon"),
        ({"horizon_s": 1e9, "dt": 1e-3}, "steps"),
        ({"horizon_s": 10.0, "dt": 0.1, "x0": [[1.0, 2.0]]}, "x0"),
        ({"horizon_s": 10.0, "dt": 0.1, "inputs": {"rpm": 1.0}}, "no input"),
        ({"horizon_s": 10.0, "dt": 0.1, "record_every": 0}, "record_every"),
        ({"horizon_s": 1e6, "dt": 1.0, "limits": Limits(max_recorded_values=1000)}, "exceed"),
    ],
)
def test_bad_runs_are_refused(kwargs: dict, message: str) -> None:
    m = get_model("pump")
    kwargs.setdefault("x0", m.state_vector())
    with pytest.raises(ValidationError, match=message):
        rk4(m, **kwargs)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_divergence_is_reported() -> None:
    m = get_model("pump")
    with pytest.raises(ValidationError, match="diverged"):
        rk4(m, m.state_vector({"flow_m3h": 0.0}), horizon_s=50.0, dt=5.0)


def test_models_and_trajectories_pickle() -> None:
    m = get_model("pump")
    tr = rk4(m, m.state_vector(), horizon_s=1.0, dt=0.1)
    assert pickle.loads(pickle.dumps(m)) is not None
    back = pickle.loads(pickle.dumps(tr))
    np.testing.assert_array_equal(back.outputs, tr.outputs)
