"""Scenarios: readings to initial state, Monte Carlo bands, residuals, validation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from graph.errors import NotFound, ValidationError
from sim import Event, InputSeries, get_model
from sim.scenario import (
    Scenario,
    Uncertain,
    initial_state_from_readings,
    residual_stats,
    residuals,
    run_scenario,
)


def test_initial_state_from_readings_maps_scales_and_keeps_defaults() -> None:
    pump = get_model("pump")
    defaults = dict(zip(pump.state_names, pump.state_vector(), strict=True))
    mapping = {"pump-2.speed": "speed_rpm", "pump-2.flow_ls": ("flow_m3h", 3.6, 0.0)}
    state = initial_state_from_readings(
        mapping, {"pump-2.speed": 2500.0, "pump-2.flow_ls": 40.0}, defaults
    )
    assert state == {"speed_rpm": 2500.0, "flow_m3h": pytest.approx(144.0), "bearing_temp_c": 41.6}
    with pytest.raises(ValidationError, match="unknown state"):
        initial_state_from_readings({"s": "rpm"}, {"s": 1.0}, defaults)
    with pytest.raises(ValidationError, match="finite"):
        initial_state_from_readings(mapping, {"pump-2.speed": float("nan")}, defaults)


def _what_if(samples: int = 0, **kw: object) -> Scenario:
    return Scenario(
        model="pump",
        initial_state={"speed_rpm": 2500.0, "flow_m3h": 120.0},
        inputs={
            "speed_setpoint_rpm": 2900.0,
            "inlet_pressure_bar": InputSeries.ramp(1.0, 0.8, 600.0),
        },
        horizon_s=600.0,
        step_s=0.1,
        output_every_s=10.0,
        monte_carlo={"wear": Uncertain("uniform", (0.0, 0.6))} if samples else {},
        samples=samples,
        seed=7,
        **kw,  # type: ignore[arg-type]
    )


def test_monte_carlo_bands_bracket_and_repeat_with_the_seed() -> None:
    result = run_scenario(_what_if(samples=40))
    assert result.samples == 40 and result.times.shape == (61,)
    bands = result.bands["flow_m3h"]
    assert np.all(bands[5.0] <= bands[50.0]) and np.all(bands[50.0] <= bands[95.0])
    assert bands[95.0][-1] - bands[5.0][-1] > 1.0  # wear spreads the flow
    # the nominal run (wear 0) is the best case for flow: above the median of worn pumps
    assert result.outputs["flow_m3h"][-1] > bands[50.0][-1]
    again = run_scenario(_what_if(samples=40))
    np.testing.assert_array_equal(again.bands["flow_m3h"][50.0], bands[50.0])
    assert pickle.loads(pickle.dumps(result)).as_dict() == result.as_dict()


def test_adaptive_method_gives_the_same_answer() -> None:
    a = run_scenario(_what_if())
    b = run_scenario(_what_if(method="adaptive"))
    np.testing.assert_allclose(a.outputs["flow_m3h"], b.outputs["flow_m3h"], rtol=1e-4)


def test_event_probability_over_samples() -> None:
    scenario = Scenario(
        model="tank",
        initial_state={"level_m": 1.0},
        inputs={"inflow_m3h": 100.0, "outflow_demand_m3h": 200.0},
        parameters={"area_m2": 50.0},
        horizon_s=3600.0,
        step_s=5.0,
        monte_carlo={"area_m2": Uncertain("normal", (120.0, 20.0))},
        samples=200,
        events=(Event("low", "level_m", 0.2, "falling"),),
    )
    result = run_scenario(scenario)
    # 0.8 m x area drains at a net 100 m3/h: low within the hour when area < 125 m2
    draws = np.clip(np.random.default_rng(0).normal(120, 20, 200), 0.01, 1e6)
    expected = np.mean(draws < 125.0)
    assert 0.3 < expected < 0.9
    assert result.event_probability["low"] == pytest.approx(expected)
    assert any(h.scenario == 0 for h in result.events)


def test_residuals_against_measured_history() -> None:
    result = run_scenario(_what_if())
    t = np.arange(0.0, 700.0, 25.0)  # the last few lie beyond the simulated span
    sim = np.interp(t, result.times, result.outputs["flow_m3h"])
    measured = {"flow_m3h": (t, sim + 2.0), "power_kw": (result.times, result.outputs["power_kw"])}
    stats = residuals(result, measured)
    assert stats["flow_m3h"].bias == pytest.approx(2.0)
    assert stats["flow_m3h"].rmse == pytest.approx(2.0)
    assert stats["flow_m3h"].n_outside == int(np.sum(t > 600.0))
    assert stats["power_kw"].max_abs == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValidationError, match="no simulated output"):
        residuals(result, {"pressure": ([0.0], [1.0])})
    with pytest.raises(ValidationError, match="non-finite"):
        residuals(result, {"flow_m3h": ([0.0], [float("nan")])})


def test_residual_stats_of_series_with_a_gap_after_an_event() -> None:
    sim_t = np.array([0.0, 10.0, 20.0, 30.0])
    sim_v = np.array([0.0, 10.0, 20.0, np.nan])  # stopped after t = 20 s
    stats = residual_stats(
        sim_t, sim_v, np.array([5.0, 15.0, 25.0, -1.0]), np.array([6.0, 14.0, 0.0, 0.0])
    )
    assert (stats.n, stats.n_outside) == (2, 2)
    assert stats.bias == pytest.approx(0.0) and stats.rmse == pytest.approx(1.0)
    assert stats.max_abs == pytest.approx(1.0)
    empty = residual_stats(sim_t, np.full(4, np.nan), np.array([1.0]), np.array([1.0]))
    assert empty.n == 0 and np.isnan(empty.rmse)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"model": "nope"}, NotFound),
        ({"initial_state": {"rpm": 1.0}}, ValidationError),
        ({"parameters": {"wear": 2.0}}, ValidationError),
        ({"inputs": {"speed": 1.0}}, ValidationError),
        ({"step_s": 0.0}, ValidationError),
        ({"horizon_s": float("inf")}, ValidationError),
        ({"output_every_s": 0.01}, ValidationError),
        ({"monte_carlo": {"wear": Uncertain("uniform", (0, 1))}, "samples": 1}, ValidationError),
        ({"samples": 10**6}, ValidationError),
        ({"samples": 50}, ValidationError),  # samples without an uncertain parameter
        ({"percentiles": (150.0,)}, ValidationError),
        ({"events": (Event("e", "nothing", 1.0),)}, ValidationError),
    ],
)
def test_bad_scenarios_are_refused(kwargs: dict, error: type) -> None:
    base = {"model": "pump", "horizon_s": 10.0, "step_s": 0.1}
    with pytest.raises(error):
        Scenario(**{**base, **kwargs})


def test_bad_distributions_are_refused() -> None:
    with pytest.raises(ValidationError):
        Uncertain("cauchy", (0, 1))
    with pytest.raises(ValidationError):
        Uncertain("normal", (0, -1))
    with pytest.raises(ValidationError):
        Uncertain("triangular", (0, 2, 1))
