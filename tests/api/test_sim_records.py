"""Plain data of simulation runs: the readings batch a run's result is stored as."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from api.services.simulation.records import band_id, result_batch, series_id
from graph.bolt.simruns import SimulationRunRecord
from sim import Event, Scenario, Uncertain, run_scenario


def test_result_batch_holds_every_finite_point_of_series_and_bands() -> None:
    # drained tanks of uncertain area: some samples end early (NaN after their event)
    scenario = Scenario(
        model="tank",
        initial_state={"level_m": 1.0},
        inputs={"inflow_m3h": 0.0, "outflow_demand_m3h": 200.0},
        parameters={"area_m2": 50.0},
        horizon_s=3600.0,
        step_s=5.0,
        output_every_s=60.0,
        monte_carlo={"area_m2": Uncertain("uniform", (20.0, 200.0))},
        samples=30,
        events=(Event("low", "level_m", 0.3, "falling"),),
    )
    result = run_scenario(scenario)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    record = SimulationRunRecord(
        id="simrun-test", asset_id="tank-9", model="tank", status="running",
        start_at=start, created_at=start,
    )  # fmt: skip
    batch = result_batch(record, result)
    expected: dict[str, np.ndarray] = {}
    for name, values in result.outputs.items():
        expected[series_id(record.id, name)] = values
        for q, band in result.bands[name].items():
            expected[band_id(record.id, name, q)] = band
    assert len(batch) == sum(int(np.isfinite(v).sum()) for v in expected.values())
    assert np.isfinite(batch.value).all()
    assert set(batch.asset_id) == {"tank-9"} and set(batch.quality) == {"good"}
    t0 = int(start.timestamp() * 1e6)
    for sid, values in expected.items():
        mine = batch.sensor_id == sid
        ok = np.isfinite(values)
        np.testing.assert_array_equal(batch.value[mine], values[ok])
        want = t0 + np.round(result.times[ok] * 1e6).astype(np.int64)
        np.testing.assert_array_equal(batch.ts[mine], want)
    # the nominal run (area 50 m2) stops at its event: 0.7 m x 50 m2 / 200 m3/h = 630 s
    level = batch.ts[batch.sensor_id == series_id(record.id, "level_m")]
    assert (level[-1] - t0) / 1e6 == pytest.approx(600.0)
