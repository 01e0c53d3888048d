"""Calibration recovers known parameters from noisy synthetic history."""

from __future__ import annotations

import numpy as np
import pytest

from graph.errors import ValidationError
from sim import InputSeries, get_model, rk4
from sim.calibration import calibrate


def _history(
    model_name: str,
    truth: dict,
    inputs: dict,
    x0: dict,
    horizon: float,
    dt: float,
    every: int,
    noise: dict,
    seed: int = 3,
) -> dict:
    model = get_model(model_name)
    tr = rk4(
        model,
        model.state_vector(x0),
        horizon_s=horizon,
        dt=dt,
        inputs=inputs,
        params=model.param_vector(truth),
        record_every=every,
    )
    rng = np.random.default_rng(seed)
    return {
        name: (tr.times, tr.output(name)[:, 0] + rng.normal(0.0, sd, tr.times.size))
        for name, sd in noise.items()
    }


def test_bearing_thermal_parameters_are_recovered() -> None:
    truth = {"thermal_resistance_k_per_kw": 55.0, "thermal_capacitance_kj_per_k": 18.0}
    inputs = {
        "speed_rpm": InputSeries.steps([0, 1800, 3600], [2900, 1500, 2900]),
        "shaft_power_kw": InputSeries.steps([0, 1800, 3600], [30, 10, 28]),
        "ambient_temp_c": 22.0,
    }
    state = {"bearing_temp_c": 30.0}
    measured = _history(
        "motor_thermal", truth, inputs, state, 5400.0, 5.0, 6, {"bearing_temp_c": 0.2}
    )
    result = calibrate(
        "motor_thermal",
        fit={"thermal_resistance_k_per_kw": (5.0, 200.0), "thermal_capacitance_kj_per_k": None},
        measured=measured,
        inputs=inputs,
        initial_state=state,
        step_s=5.0,
    )
    assert result.success, result.message
    for name, value in truth.items():
        assert result.fitted[name] == pytest.approx(value, rel=0.03)
        assert result.std_errors[name] < 0.05 * value
    assert result.rmse["bearing_temp_c"] == pytest.approx(0.2, rel=0.2)
    assert result.r2["bearing_temp_c"] > 0.99
    assert result.parameters["wear"] == 0.0  # unfitted ones keep their defaults


def test_pump_wear_and_system_head_are_recovered() -> None:
    truth = {"wear": 0.35, "static_head_m": 30.0}
    inputs = {"speed_setpoint_rpm": InputSeries.steps([0, 40, 80], [2900, 2400, 2700])}
    state = {"speed_rpm": 2900.0, "flow_m3h": 200.0}
    measured = _history(
        "pump",
        truth,
        inputs,
        state,
        120.0,
        0.05,
        20,
        {"flow_m3h": 1.0, "discharge_pressure_bar": 0.02},
    )
    result = calibrate(
        "pump",
        fit={"wear": None, "static_head_m": (0.0, 60.0)},
        measured=measured,
        inputs=inputs,
        initial_state=state,
        step_s=0.05,
    )
    assert result.success
    assert result.fitted["wear"] == pytest.approx(0.35, abs=0.02)
    assert result.fitted["static_head_m"] == pytest.approx(30.0, abs=0.5)
    assert result.r2["flow_m3h"] > 0.95


def test_bad_calibrations_are_refused() -> None:
    good = {"bearing_temp_c": ([0.0, 10.0], [25.0, 26.0])}
    with pytest.raises(ValidationError, match="at least one parameter"):
        calibrate("motor_thermal", fit={}, measured=good)
    with pytest.raises(ValidationError, match="no parameter"):
        calibrate("motor_thermal", fit={"R": None}, measured=good)
    with pytest.raises(ValidationError, match="no output"):
        calibrate("motor_thermal", fit={"wear": None}, measured={"temp": ([0, 1], [1, 2])})
    with pytest.raises(ValidationError, match="non-finite"):
        bad = {"bearing_temp_c": ([0.0, 10.0], [25.0, float("nan")])}
        calibrate("motor_thermal", fit={"wear": None}, measured=bad)
    with pytest.raises(ValidationError, match="empty bounds"):
        calibrate("motor_thermal", fit={"wear": (0.8, 0.2)}, measured=good)
