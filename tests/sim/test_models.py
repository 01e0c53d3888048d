"""Model physics: affinity laws, wear effects, documentation, registry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.errors import NotFound, ValidationError
from sim import MODELS, equal_percentage, get_model, rk4

PUMP = get_model("pump")


def _pump_out(speed: float, flow: float, wear: float = 0.0) -> dict[str, float]:
    x = PUMP.state_vector({"speed_rpm": speed, "flow_m3h": flow})[None]
    y = PUMP.compute_outputs(
        0.0, x, PUMP.input_vector()[None], PUMP.param_vector({"wear": wear})[None]
    )
    return dict(zip(PUMP.output_names, y[0], strict=True))


@settings(max_examples=60, deadline=None)
@given(
    flow=st.floats(5.0, 300.0),
    ratio=st.floats(0.3, 1.2),
    wear=st.floats(0.0, 1.0),
)
def test_pump_curve_follows_affinity_laws(flow: float, ratio: float, wear: float) -> None:
    rated = _pump_out(2900.0, flow, wear)
    similar = _pump_out(2900.0 * ratio, flow * ratio, wear)
    assert similar["head_m"] == pytest.approx(rated["head_m"] * ratio**2, rel=1e-9)
    assert similar["power_kw"] == pytest.approx(rated["power_kw"] * ratio**3, rel=1e-9)
    assert similar["efficiency"] == pytest.approx(rated["efficiency"], rel=1e-9, abs=1e-12)


def test_pump_defaults_are_a_30kw_pump_at_its_best_efficiency_point() -> None:
    out = _pump_out(2900.0, 200.0)
    assert out["head_m"] == pytest.approx(45.0)
    assert out["efficiency"] == pytest.approx(0.80, abs=0.005)
    assert 25.0 < out["power_kw"] < 37.0
    flows = np.linspace(20, 300, 200)
    eff = [_pump_out(2900.0, q)["efficiency"] for q in flows]
    assert 170 < flows[int(np.argmax(eff))] < 230  # efficiency peaks near the BEP


def test_wear_lowers_head_and_efficiency_and_heats_the_bearing() -> None:
    new, worn = _pump_out(2900.0, 200.0, 0.0), _pump_out(2900.0, 200.0, 0.8)
    assert worn["head_m"] < new["head_m"]
    assert worn["efficiency"] < new["efficiency"]
    assert worn["vibration_mm_s"] > new["vibration_mm_s"]
    p = np.stack([PUMP.param_vector({"wear": w}) for w in (0.0, 0.8)])
    x0 = np.repeat(PUMP.state_vector()[None], 2, axis=0)
    tr = rk4(PUMP, x0, horizon_s=7200.0, dt=1.0, params=p, record_every=7200)
    hot = tr.output("bearing_temp_c")[-1]
    assert hot[1] > hot[0] + 20.0


def test_pump_speed_rise_and_inlet_drop_move_the_operating_point() -> None:
    """The issue's question: pump to 2,900 rpm from 2,500 while the inlet drops 20 %."""
    from sim import InputSeries

    start = PUMP.state_vector({"speed_rpm": 2500.0, "flow_m3h": 120.0})
    inputs = {
        "speed_setpoint_rpm": 2900.0,
        "inlet_pressure_bar": InputSeries.ramp(1.0, 0.8, 3600.0),
    }
    tr = rk4(PUMP, start, horizon_s=3600.0, dt=0.2, inputs=inputs, record_every=300)
    flow = tr.output("flow_m3h")[:, 0]
    # operating point where pump head meets the system curve, solved by hand
    h_in = 0.8 * 1e5 / (998.0 * 9.81)
    q_end = np.sqrt((56.0 - 35.2 + h_in) / (2.75e-4 + 5e-4))
    assert flow[-1] == pytest.approx(q_end, rel=1e-4)
    assert flow[1] > flow[-1]  # at rated speed early, then the falling inlet pressure bites


def test_every_model_documents_its_variables() -> None:
    for name, model in MODELS.items():
        assert model.name == name and model.description
        doc = model.describe()
        for kind in ("states", "inputs", "parameters", "outputs"):
            for row in doc[kind]:
                assert row["unit"] and row["description"]
        x = model.state_vector()[None]
        u = model.input_vector()[None]
        p = model.param_vector()[None]
        assert model.derivatives(0.0, x, u, p).shape == (1, len(model.states))
        assert model.compute_outputs(0.0, x, u, p).shape == (1, len(model.outputs))
        assert type(model).__doc__ is not None or type(model).__module__


def test_registry_and_vectors_refuse_unknown_names() -> None:
    with pytest.raises(NotFound):
        get_model("warp_drive")
    with pytest.raises(ValidationError, match="no parameter"):
        PUMP.param_vector({"warp": 1.0})
    with pytest.raises(ValidationError, match="must lie in"):
        PUMP.param_vector({"wear": 1.5})
    with pytest.raises(ValidationError, match="finite"):
        PUMP.state_vector({"speed_rpm": float("nan")})


def test_valve_characteristic_is_equal_percentage() -> None:
    valve = get_model("valve")
    pos = np.linspace(0.0, 1.0, 11)[:, None]
    u = valve.input_vector({"upstream_pressure_bar": 2.0, "downstream_pressure_bar": 1.0})[None]
    flow = valve.compute_outputs(0.0, pos, u, valve.param_vector()[None])[:, 1]
    assert flow[0] == pytest.approx(0.0, abs=1e-12) and flow[-1] == pytest.approx(100.0)
    # equal percentage: equal position steps multiply the (unshifted) flow by R^0.1
    r = 50.0
    unshifted = flow * (1 - 1 / r) + 100.0 / r
    np.testing.assert_allclose(unshifted[1:] / unshifted[:-1], r**0.1)


@settings(max_examples=60, deadline=None)
@given(x=st.floats(0.0, 1.0), r=st.floats(1.5, 1000.0))
def test_equal_percentage_trim_is_the_valve_models_and_tends_to_linear(x: float, r: float) -> None:
    phi = float(equal_percentage(x, r))
    assert 0.0 <= phi <= x + 1e-12  # an equal-percentage trim passes less than a linear one
    valve = get_model("valve")
    u = valve.input_vector({"upstream_pressure_bar": 2.0, "downstream_pressure_bar": 1.0})[None]
    p = valve.param_vector({"kv_m3h": 100.0, "rangeability": r})[None]
    flow = valve.compute_outputs(0.0, np.array([[x]]), u, p)[0, 1]
    assert flow == pytest.approx(100.0 * phi, rel=1e-12, abs=1e-12)  # Q = Kv f(x) sqrt(dp)
    assert float(equal_percentage(x, 1.0)) == x  # R = 1: linear
    assert float(equal_percentage(x, 1.0 + 1e-4)) == pytest.approx(x, abs=1e-4)


def test_pump_converts_a_stem_position_through_its_valves_trim() -> None:
    """A pump given the stem position of an equal-percentage valve (R = 50) runs exactly as
    one given the valve's relative Kv with a linear trim: the same system curve."""
    x = np.array([[2900.0, 150.0, 40.0]])
    for stem in (0.15, 0.5, 0.8, 1.0):
        stem_u = PUMP.input_vector({"valve_opening": stem})[None]
        kv_u = PUMP.input_vector({"valve_opening": float(equal_percentage(stem, 50.0))})[None]
        by_stem = PUMP.derivatives(
            0.0, x, stem_u, PUMP.param_vector({"valve_rangeability": 50})[None]
        )
        by_kv = PUMP.derivatives(0.0, x, kv_u, PUMP.param_vector()[None])
        np.testing.assert_allclose(by_stem, by_kv, rtol=1e-12)
    # half open, an equal-percentage valve throttles far more than a linear one
    flows = [
        rk4(
            PUMP,
            x[0],
            horizon_s=120.0,
            dt=0.01,
            inputs={"valve_opening": 0.5},
            params=PUMP.param_vector({"valve_rangeability": r}),
            record_every=12000,
        ).output("flow_m3h")[-1, 0]
        for r in (1.0, 50.0)
    ]
    assert flows[1] < 0.8 * flows[0], flows
