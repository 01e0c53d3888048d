"""Importing plant files into the embedded graph: whole, idempotent, all-or-nothing."""

from __future__ import annotations

import pytest

from api.cli import EXAMPLE_PLANT
from graph.bolt.importer import import_plant
from graph.bolt.repository import GraphRepository
from graph.errors import ValidationError
from graph.plantfile import load_plant_file, parse_plant


def _plant_text(u: str, sensor_max: str = "16") -> str:
    return f"""
name: test plant {u}
assets:
  - id: {u}-site
    type: site
    level: site
    children:
      - id: {u}-line
        type: line
        level: line
        children:
          - id: {u}-pump
            type: pump
            level: equipment
            sensors:
              - {{id: {u}-pt, kind: pressure, unit: bar, min_value: 0, max_value: {sensor_max}}}
            actuators:
              - {{id: {u}-sp, unit: rpm, min_value: 0, max_value: 3000}}
            sim:
              model: pump
              parameters: {{wear: 0.1}}
              state_map: {{{u}-pt: discharge_pressure_bar}}
          - id: {u}-tank
            type: tank
            level: equipment
relations:
  - {{from: {u}-tank, to: {u}-pump, type: FEEDS}}
data_sources:
  - id: {u}-mb
    protocol: modbus
    endpoint: modbus://127.0.0.1:5020?unit=1
    bindings:
      - {{sensor: {u}-pt, address: "hr:0", data_type: uint16, scale: 0.01}}
      - {{actuator: {u}-sp, address: "hr:10", data_type: float32}}
maintenance:
  - {{id: {u}-m1, asset: {u}-pump, kind: inspection, at: "2025-01-02T03:04:05Z"}}
"""


async def test_import_is_complete_and_idempotent(repo: GraphRepository, uid: str) -> None:
    plant = parse_plant(_plant_text(uid))
    first = await import_plant(repo, plant)
    again = await import_plant(repo, plant)
    assert first.counts == again.counts
    tree = await repo.assets.subtree(f"{uid}-site", depth=3)
    assert sorted(n.asset.id for n in tree) == sorted(
        f"{uid}-{x}" for x in ("line", "pump", "tank")
    )
    assert [s.id for s in (await repo.devices.sensors_of([f"{uid}-pump"]))[f"{uid}-pump"]] == [
        f"{uid}-pt"
    ]
    assert [r.id for r in await repo.topology.impact(f"{uid}-tank")] == [f"{uid}-pump"]
    (cfg,) = await repo.sources.configs([f"{uid}-mb"])
    assert [(b.sensor_id, b.scale) for b in cfg.sensors] == [(f"{uid}-pt", 0.01)]
    assert len((await repo.maintenance.history([f"{uid}-pump"]))[f"{uid}-pump"]) == 1
    specs = await repo.assets.specs([f"{uid}-pump"])
    assert specs[f"{uid}-pump"]["sim"]["model"] == "pump"
    assert specs[f"{uid}-pump"]["sim"]["state_map"] == {f"{uid}-pt": "discharge_pressure_bar"}


async def test_bad_file_names_the_fault_and_writes_nothing(repo: GraphRepository, uid: str) -> None:
    with pytest.raises(ValidationError) as err:
        parse_plant(_plant_text(uid, sensor_max="-5"))
    assert "max_value" in str(err.value) or "min" in str(err.value)
    assert err.value.line is not None
    assert await repo.assets.get_many([f"{uid}-site"]) == {}


async def test_example_plant_imports(repo: GraphRepository) -> None:
    plant = load_plant_file(EXAMPLE_PLANT)
    report = await import_plant(repo, plant)
    assert report.counts["assets"] == len(plant.assets) > 30
    vib = await repo.devices.sensor("pump-101.vibration")
    assert (vib.warn_low, vib.warn_high, vib.max_value) == (None, 5.5, 20)
    impact = await repo.topology.impact("pump-101")
    assert impact, "a pump failure in the example plant reaches something downstream"
