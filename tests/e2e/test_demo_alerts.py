"""The demo's wearing bearing raises alerts from the example plant's alarm levels.

The demo plant (physics) feeds the alert rules (pure) with the example plant's own
sensor definitions: pump-101 wears and crosses its vibration and bearing-temperature
warning levels; no other sensor of the plant (pumps, line, HVAC) raises anything.
"""

from __future__ import annotations

import numpy as np

from analytics import AlertEvaluator
from api.cli import EXAMPLE_PLANT
from api.demo.plant import DemoPlant, WearFault
from graph.plantfile import load_plant_file
from ingest.store import ReadingBatch


def test_wear_raises_warnings_on_the_worn_pump_only() -> None:
    example = load_plant_file(EXAMPLE_PLANT)
    sensors = {s.id: s for s in example.sensors}
    watched = list(sensors.values())  # every sensor: a healthy plant raises nothing
    assert any(s.warn_high is not None for s in watched), "the example sets alarm levels"
    ids = np.array([s.id for s in watched], dtype=object)
    assets = np.array([s.asset_id for s in watched], dtype=object)
    plant = DemoPlant(example, seed=3, speedup=60, fault=WearFault("pump-101", 0.6, 1800))
    evaluator = AlertEvaluator()
    raised: list[tuple[str, str, float]] = []
    t_us = 0
    for minute in range(
        90
    ):  # an hour and a half of plant time, a batch of readings per plant minute
        values, times = [], []
        for _ in range(12):  # 12 readings, 5 plant seconds apart
            plant.advance(5 / 60)
            t_us += 5_000_000
            values.append([plant.value(i) for i in ids])
            times.append(t_us)
        n = len(ids)
        batch = ReadingBatch.from_columns(
            ts=np.repeat(times, n),
            sensor_id=np.tile(ids, len(times)),
            asset_id=np.tile(assets, len(times)),
            value=np.array(values).ravel(),
            quality=np.full(n * len(times), "good", dtype=object),
        )
        for event in evaluator.evaluate(batch, sensors):
            if event.kind.value == "raised":
                raised.append((event.sensor_id, event.rule.value, minute))
    by_sensor = {s for s, _, _ in raised}
    assert {"pump-101.vibration", "pump-101.bearing_temp"} <= by_sensor, raised
    assert all(s.startswith("pump-101") for s in by_sensor), raised
    first = min(m for s, _, m in raised)
    assert 5 <= first <= 50, f"the fault shows after a while, not at once: {raised}"
