"""Energy optimisation: the schedule is judged by simulating it through the zone model."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.energy import EnergyProblem, baseline_setpoints, optimize_energy
from analytics.schedule import Zone, ZoneConditions, discretise, simulate_schedule
from graph.errors import ValidationError
from sim import get_model, rk4

N = 96  # 24 h at 15 min
HOURS = np.arange(N) * 0.25
SUMMER_C = 26.0 + 6.0 * np.sin(2 * np.pi * (HOURS - 9.0) / 24.0)  # 20..32 degC
SUN = np.maximum(0.0, 600.0 * np.sin(np.pi * (HOURS - 6.0) / 12.0))
OFFICE = np.where((HOURS >= 8) & (HOURS < 18), 30.0, 0.0)
PEAK = np.where((HOURS >= 12) & (HOURS < 18), 0.60, 0.10)  # per kWh
FLAT = np.full(N, 0.20)
BAND_TOLERANCE_KH = 0.01  # occupied degree-hours outside the band the schedule may cause
BAND_TOLERANCE_K = 0.05  # and the largest excursion


def summer(price: np.ndarray, zones: list[Zone] | None = None, **kw: object) -> EnergyProblem:
    return EnergyProblem(
        zones=zones or [Zone("z1", initial_temp_c=25.0)],
        price=price,
        outdoor_temp_c=SUMMER_C,
        occupancy=OFFICE,
        solar_w_m2=SUN,
        **kw,  # type: ignore[arg-type]
    )


def test_price_peak_schedule_beats_baseline_in_simulation_and_keeps_the_band() -> None:
    result = optimize_energy(summer(PEAK))
    assert result.solver_status == "optimal"
    assert result.cost < result.baseline_cost
    assert result.savings_share > 0.05, result.savings_share
    assert result.comfort_kh <= BAND_TOLERANCE_KH
    assert float(result.optimised.max_excursion_k.max()) <= BAND_TOLERANCE_K
    # it pre-cools: before the peak the zone is cooled below the band's top
    before_peak = (HOURS >= 8) & (HOURS < 12)
    assert result.cooling_c[before_peak, 0].min() < 24.0 - 1.0
    # and shifts electricity out of the peak
    peak = PEAK > 0.1
    opt_peak = result.optimised.electric_kw[peak].sum()
    assert opt_peak < result.baseline.electric_kw[peak].sum()


def test_flat_price_gives_no_precooling_gain() -> None:
    result = optimize_energy(summer(FLAT))
    assert result.solver_status == "optimal"
    assert result.savings_share < 0.02, result.savings_share
    assert result.comfort_kh <= max(result.baseline_comfort_kh, BAND_TOLERANCE_KH)
    # the cooling setpoints never go below the band top (less the LP's margin)
    cooling = result.optimised.hvac_kw[:, 0] < 0
    assert result.cooling_c[cooling, 0].min() >= 24.0 - 0.1 - 1e-6


def test_winter_morning_peak_preheats() -> None:
    winter_c = 2.0 + 4.0 * np.sin(2 * np.pi * (HOURS - 14.0) / 24.0)
    price = np.where((HOURS >= 7) & (HOURS < 10), 0.50, 0.10)
    problem = EnergyProblem(
        zones=[Zone("w", initial_temp_c=18.0)],
        price=price,
        outdoor_temp_c=winter_c,
        occupancy=OFFICE,
        comfort_c=(20.0, 24.0),
    )
    result = optimize_energy(problem)
    assert result.savings > 0
    assert result.comfort_kh <= BAND_TOLERANCE_KH
    assert (
        result.optimised.hvac_kw[HOURS < 7, 0].sum() > result.baseline.hvac_kw[HOURS < 7, 0].sum()
    )


def test_lp_prediction_matches_the_closed_loop_simulation() -> None:
    zones = [Zone("a", initial_temp_c=25.0), Zone("b", {"window_area_m2": 20.0}, cooling_kw=15)]
    result = optimize_energy(summer(PEAK, zones))
    assert result.predicted_cost == pytest.approx(result.cost, rel=1e-3)
    assert result.optimised.energy_kwh.shape == (2,)
    assert result.heating_c.shape == result.cooling_c.shape == (N, 2)
    assert np.all(result.heating_c <= result.cooling_c)


def test_capacity_is_respected_and_shortfall_shows_as_discomfort() -> None:
    small = Zone("small", initial_temp_c=25.0, cooling_kw=3.0)
    result = optimize_energy(summer(PEAK, [small]))
    assert result.optimised.hvac_kw.min() >= -3.0 - 1e-9
    assert result.comfort_kh > 1.0  # 3 kW cannot hold 24 degC on this day
    assert result.baseline_comfort_kh > 1.0


def test_baseline_is_a_fixed_occupied_schedule_with_prestart() -> None:
    problem = summer(FLAT, baseline_prestart_s=3600.0)
    heat, cool = baseline_setpoints(problem)
    on = (HOURS >= 7) & (HOURS < 18)
    assert np.all(cool[on, 0] == 24.0) and np.all(heat[on, 0] == 21.0)
    assert np.all(cool[~on, 0] == 28.0) and np.all(heat[~on, 0] == 16.0)


def test_discretisation_matches_the_engine() -> None:
    model = get_model("hvac_zone")
    p = model.param_vector()[None]
    ad, bd = discretise(p, 900.0)
    x0 = np.array([[23.0, 25.0]])
    u = {"outdoor_temp_c": 31.0, "occupancy": 12.0, "solar_w_m2": 400.0, "hvac_power_kw": -9.0}
    run = rk4(model, x0, horizon_s=900.0, dt=10.0, inputs=u, params=p, path="vector")
    exact = ad[0] @ x0[0] + bd[0] @ model.input_vector(u)
    np.testing.assert_allclose(run.states[-1, 0], exact, atol=1e-6)


def test_simulated_comfort_counts_only_occupied_time() -> None:
    zone = Zone("hot", initial_temp_c=30.0, initial_mass_temp_c=30.0)
    occupancy = np.zeros(N)
    occupancy[:4] = 10.0  # the first hour occupied, at 30 degC with the HVAC off
    cond = ZoneConditions.build(
        zones=1,
        n_steps=N,
        step_s=900.0,
        price=FLAT,
        outdoor_temp_c=np.full(N, 30.0),
        occupancy=occupancy,
    )
    off = np.full((N, 1), 100.0)
    sim = simulate_schedule([zone], cond, np.full((N, 1), -50.0), off, (21.0, 24.0))
    assert sim.total_energy_kwh == 0.0
    # about 6 K above the band for the occupied hour (people warm it a little more)
    assert 6.0 <= sim.total_comfort_kh <= 7.0
    assert 6.0 <= float(sim.max_excursion_k[0]) <= 7.0


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"price": np.ones(N - 1)}, "price"),
        ({"outdoor_temp_c": np.ones(N + 4)}, "outdoor_temp_c"),
        ({"occupancy": np.ones((N, 3))}, "occupancy"),
        ({"comfort_c": (24.0, 21.0)}, "comfort_c"),
        ({"setback_c": (22.0, 23.0)}, "setback_c"),
        ({"horizon_s": 1000.0}, "horizon_s"),
        ({"price": -PEAK}, "price"),
        ({"outdoor_temp_c": np.full(N, np.nan)}, "outdoor_temp_c"),
    ],
)
def test_bad_input_is_a_validation_error(change: dict[str, object], path: str) -> None:
    kw: dict[str, object] = {
        "zones": [Zone("z")],
        "price": PEAK,
        "outdoor_temp_c": SUMMER_C,
        "occupancy": OFFICE,
    }
    kw.update(change)
    with pytest.raises(ValidationError) as err:
        EnergyProblem(**kw)  # type: ignore[arg-type]
    assert err.value.path == path


def test_bad_zone_is_a_validation_error() -> None:
    with pytest.raises(ValidationError):
        Zone("z", {"no_such_parameter": 1.0})
    with pytest.raises(ValidationError):
        Zone("z", cop_cooling=0.0)
    with pytest.raises(ValidationError):
        summer(FLAT, [Zone("z"), Zone("z")])
