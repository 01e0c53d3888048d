"""Plant description files: the example plant, precise errors, round trips, fuzzing."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.gen_plant import generate_plant
from graph.errors import NotFound, ValidationError
from graph.model import AssetLevel, RelationType, WorkOrderStatus
from graph.plantfile import (
    PlantDescription,
    dump_plant,
    load_plant_file,
    parse_plant,
    plant_to_dict,
)
from sim.registry import MODELS

EXAMPLE = Path(__file__).resolve().parents[2] / "api" / "demo" / "example_plant.yaml"


@pytest.fixture(scope="module")
def example() -> PlantDescription:
    return load_plant_file(EXAMPLE, sim_models=MODELS)


def _count_key(node: object, key: str) -> int:
    """How many items the lists under ``key`` hold anywhere in a plain document."""
    if isinstance(node, dict):
        own = len(node[key]) if isinstance(node.get(key), list) else 0
        return own + sum(_count_key(v, key) for v in node.values())
    if isinstance(node, list):
        return sum(_count_key(v, key) for v in node)
    return 0


# --- the example plant ---------------------------------------------------------------------


def test_example_counts_match_the_file(example: PlantDescription) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert len(example.sensors) == _count_key(raw, "sensors")
    assert len(example.actuators) == _count_key(raw, "actuators")
    assert len(example.assets) == 1 + _count_key(raw, "children")
    assert len(example.relations) == len(raw["relations"])
    assert len(example.maintenance) == len(raw["maintenance"]) >= 15
    bindings = sum(len(d["bindings"]) for d in raw["data_sources"])
    assert len(example.sensor_bindings) + len(example.actuator_bindings) == bindings
    levels = [a.level.rank for a in example.assets]
    assert levels == sorted(levels)  # parents first


def test_example_pumps_have_their_sensors_and_setpoints(example: PlantDescription) -> None:
    assets = {a.id: a for a in example.assets}
    by_asset: dict[str, dict[str, tuple[str, float | None, float | None]]] = {}
    for s in example.sensors:
        by_asset.setdefault(s.asset_id, {})[s.kind] = (s.unit, s.min_value, s.max_value)
    expected = {
        "pressure": ("bar", 0, 16),
        "flow": ("m3/h", 0, 400),
        "vibration": ("mm/s", 0, 20),
        "temperature": ("°C", -20, 120),
        "power": ("kW", 0, 60),
        "speed": ("rpm", 0, 3600),
    }
    pumps = sorted(a.id for a in example.assets if a.type == "centrifugal_pump")
    assert pumps == ["pump-101", "pump-102", "pump-103"]
    for pump in pumps:
        assert by_asset[pump] == expected
        assert sum(s.asset_id == pump for s in example.sensors) == 6
        sp = [x for x in example.actuators if x.asset_id == pump]
        assert [(x.id, x.unit, x.min_value, x.max_value) for x in sp] == [
            (f"{pump}.speed_sp", "rpm", 0, 3000)
        ]
        motor = assets[f"motor-{pump[-3:]}"]
        assert (motor.parent_id, motor.level) == (pump, AssetLevel.COMPONENT)
    chain = []
    node = assets["pump-101"]
    while node.parent_id:
        node = assets[node.parent_id]
        chain.append(node.id)
    assert chain == ["ps-line-1", "pumping-station", "riverside", "acme-water"]


def test_example_every_device_point_is_bound(example: PlantDescription) -> None:
    bound_sensors = Counter(b.sensor_id for b in example.sensor_bindings)
    bound_actuators = Counter(b.actuator_id for b in example.actuator_bindings)
    assert set(bound_actuators) == {a.id for a in example.actuators}
    assert set(bound_sensors) == {s.id for s in example.sensors}
    assert max(bound_sensors.values()) == max(bound_actuators.values()) == 1
    sources = {d.id: d for d in example.data_sources}
    assert sources["opcua-ps"].endpoint == "opc.tcp://127.0.0.1:4840/twinql/demo"
    for b in example.sensor_bindings:
        if b.source_id == "opcua-ps":
            assert b.address == f"ns=2;s={b.sensor_id}"
    modbus = [b for b in example.sensor_bindings if b.source_id == "modbus-line-a"]
    assert {b.data_type for b in modbus} >= {"float32", "uint16", "int32"}
    assert any(b.scale != 1 for b in modbus) and any(b.offset != 0 for b in modbus)
    assert all(b.address.split(":")[0] in ("hr", "ir") for b in modbus)


def test_example_line_a_and_building(example: PlantDescription) -> None:
    stations = {s.asset_id: s for s in example.stations}
    assert sorted(stations) == [f"st-{i}" for i in range(1, 6)]
    times = [stations[f"st-{i}"].cycle_time_s for i in range(1, 6)]
    assert all(50 <= t <= 70 for t in times) and times.count(max(times)) == 1
    assets = {a.id: a for a in example.assets}
    for i in range(1, 5):
        st_i = stations[f"st-{i}"]
        assert st_i.buffer_id == f"buf-{i}"
        assert st_i.buffer_capacity == assets[f"buf-{i}"].metadata["capacity"]
    assert stations["st-5"].buffer_id is None
    feeds = {(r.source_id, r.target_id) for r in example.relations if r.type == RelationType.FEEDS}
    line = ["st-1", "buf-1", "st-2", "buf-2", "st-3", "buf-3", "st-4", "buf-4", "st-5"]
    assert set(zip(line, line[1:], strict=False)) <= feeds
    assert ("valve-202", "tank-301") in feeds and ("tank-301", "pump-103") in feeds  # a loop
    depends = {(r.source_id, r.target_id) for r in example.relations if r.type == "DEPENDS_ON"}
    assert {(f"zone-{i}", "ahu-1") for i in range(1, 5)} <= depends
    for i in range(1, 5):
        kinds = sorted(s.kind for s in example.sensors if s.asset_id == f"zone-{i}")
        assert kinds == ["co2", "humidity", "temperature"]
        (sp,) = [a for a in example.actuators if a.asset_id == f"zone-{i}"]
        assert (sp.unit, sp.min_value, sp.max_value) == ("°C", 16, 28)


def test_example_maintenance_history(example: PlantDescription) -> None:
    times = sorted(e.at for e in example.maintenance)
    assert times[-1] - times[0] <= timedelta(days=2 * 366)
    assert {w.status for w in example.work_orders} == {
        WorkOrderStatus.OPEN,
        WorkOrderStatus.IN_PROGRESS,
        WorkOrderStatus.DONE,
    }
    (done,) = [w for w in example.work_orders if w.status == WorkOrderStatus.DONE]
    (linked,) = [e for e in example.maintenance if e.work_order_id == done.id]
    assert (linked.asset_id, linked.kind) == ("pump-102", "bearing_replacement")


def test_example_sim_specs_name_real_model_states_and_inputs(example: PlantDescription) -> None:
    sensors = {s.id for s in example.sensors}
    points = sensors | {a.id for a in example.actuators}
    for spec in example.sims:
        model = MODELS[spec.model]
        assert set(spec.parameters) <= {p.name for p in model.parameters}
        for sensor_id, target in spec.state_map.items():
            assert sensor_id in sensors
            assert (target if isinstance(target, str) else target[0]) in {
                s.name for s in model.states
            }
        for point, target in spec.input_map.items():
            assert point in points
            assert (target if isinstance(target, str) else target[0]) in {
                i.name for i in model.inputs
            }


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_example_round_trips(example: PlantDescription, fmt: str) -> None:
    again = parse_plant(dump_plant(example, fmt), fmt=fmt)  # type: ignore[arg-type]
    assert again == example
    assert again.sims == example.sims and again.stations == example.stations


# --- errors name the path and the line -------------------------------------------------------

BASE = """\
assets:
  - id: site-1
    type: site
    level: site
    children:
      - id: pump-1
        type: pump
        level: equipment
        sensors:
          - {id: pump-1.flow, kind: flow, unit: m3/h, min_value: 0, max_value: 400}
        actuators:
          - {id: pump-1.sp, unit: rpm, min_value: 0, max_value: 3000}
      - id: tank-1
        type: tank
        level: equipment
data_sources:
  - id: ds-1
    protocol: modbus
    endpoint: modbus://127.0.0.1:5020
    bindings:
      - {sensor: pump-1.flow, address: "ir:0"}
      - {actuator: pump-1.sp, address: "hr:0"}
relations:
  - {from: tank-1, to: pump-1, type: FEEDS}
work_orders:
  - {id: wo-1, asset: pump-1, status: done, priority: 2, created_at: "2025-01-01T00:00:00Z"}
maintenance:
  - {id: mx-1, asset: pump-1, kind: inspection, at: "2025-01-02T08:00:00Z", work_order: wo-1}
"""

S0 = "assets[0].children[0].sensors[0]"
# (old, new, path of the fault, text on the fault's line (last occurrence), message part)
CASES = [
    ("max_value: 400", "max_valeu: 400", f"{S0}.max_valeu", "max_valeu", "did you mean 'max_value'"),
    ("min_value: 0, max_value: 400", "min_value: 500, max_value: 400", f"{S0}.max_value",
     "min_value: 500", "below min_value"),
    ("id: tank-1", "id: pump-1", "assets[0].children[1].id", "- id: pump-1",
     "duplicate asset id 'pump-1', first defined at assets[0].children[0].id (line 6)"),
    ("level: equipment\n        sensors", "level: equipement\n        sensors",
     "assets[0].children[0].level", "equipement", "did you mean 'equipment'"),
    ("type: tank\n        level: equipment", "type: tank\n        level: site",
     "assets[0].children[1].level", "level: site", "must be deeper than the site level"),
    ("from: tank-1", "from: tank-9", "relations[0].from", "tank-9", "(did you mean 'tank-1'?)"),
    ("sensor: pump-1.flow", "sensor: pump-1.flw", "data_sources[0].bindings[0].sensor",
     "pump-1.flw", "unknown sensor 'pump-1.flw'"),
    ("asset: pump-1, kind", "asset: pump-2, kind", "maintenance[0].asset", "mx-1",
     "unknown asset 'pump-2'"),
    ("unit: m3/h", "unit: 12", f"{S0}.unit", "unit: 12", "expected a string, got integer"),
    ("id: ds-1", "id: 101", "data_sources[0].id", "id: 101", "quote it"),
    ('at: "2025-01-02T08:00:00Z"', 'at: "2025-01-02T08:00:00"', "maintenance[0].at", "mx-1",
     "RFC 3339"),
    ('at: "2025-01-02T08:00:00Z"', "at: 2025-01-02", "maintenance[0].at", "mx-1", "RFC 3339"),
    ('at: "2025-01-02T08:00:00Z"', 'at: "2025-02-30T08:00:00Z"', "maintenance[0].at", "mx-1",
     "invalid date-time"),
    ("assets:\n", "assets:\n  - {id: extra, type: x, level: unit, parent: nope}\n",
     "assets[0].parent", "parent: nope", "unknown asset 'nope'"),
    ("{sensor: pump-1.flow, address", "{sensor: pump-1.flow, actuator: pump-1.sp, address",
     "data_sources[0].bindings[0]", "flow, actuator: pump-1.sp", "exactly one of"),
    ('{actuator: pump-1.sp, address: "hr:0"}', '{actuator: pump-1.sp, address: "ir:0"}',
     "data_sources[0].bindings[1].address", "ir:0", "holding register"),
    ('address: "ir:0"', 'address: "ai:7"', "data_sources[0].bindings[0].address", "ai:7",
     "modbus address must be"),
    ("type: tank\n", "type: tank\n        type: tank\n", "assets[0].children[1].type",
     "type: tank", "duplicate key 'type'"),
    ("id: pump-1.sp", "id: pump-1.flow", "assets[0].children[0].actuators[0].id",
     "id: pump-1.flow, unit", "share ids"),
    ("asset: pump-1, kind", "asset: tank-1, kind", "maintenance[0].work_order", "mx-1",
     "work order wo-1 is for pump-1, not tank-1"),
    ("relations:", "relatoins:", "relatoins", "relatoins", "did you mean 'relations'"),
    ("type: FEEDS}", "type: FEED}", "relations[0].type", "FEED}", "did you mean 'FEEDS'"),
    ("priority: 2", "priority: 7", "work_orders[0].priority", "priority: 7", "from 1 to 5"),
    ("protocol: modbus", "protocol: modbuss", "data_sources[0].protocol", "modbuss",
     "did you mean 'modbus'"),
    ("      - id: tank-1\n", "      - id: tank-1\n        lat: 95\n", "assets[0].children[1].lat",
     "lat: 95", "within [-90, 90]"),
]  # fmt: skip


def _line_of(text: str, marker: str) -> int:
    lines = text.splitlines()
    return max(i for i, line in enumerate(lines, 1) if marker in line)


def _faults(text: str, **kw: object) -> tuple[ValidationError, list[dict[str, object]]]:
    with pytest.raises(ValidationError) as info:
        parse_plant(text, **kw)  # type: ignore[arg-type]
    errors = info.value.details["errors"]
    assert isinstance(errors, list) and errors
    return info.value, errors


def test_base_is_valid() -> None:
    plant = parse_plant(BASE)
    assert plant.counts()["assets"] == 3 and len(plant.maintenance) == 1


@pytest.mark.parametrize(("old", "new", "path", "marker", "part"), CASES)
def test_yaml_fault_names_path_and_line(
    old: str, new: str, path: str, marker: str, part: str
) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    exc, errors = _faults(text, source_name="plant.yaml")
    hits = [e for e in errors if e["path"] == path]
    assert hits, errors
    assert hits[0]["line"] == _line_of(text, marker)
    assert part in str(hits[0]["message"])
    assert str(exc).startswith(f"line {errors[0]['line']}, {errors[0]['path']}: ")
    assert "plant.yaml" in str(exc)


def test_json_fault_names_path_and_line() -> None:
    doc = yaml.safe_load(BASE.replace("max_value: 400", "max_valeu: 400"))
    text = json.dumps(doc, indent=2)
    exc, errors = _faults(text, source_name="plant.json")
    assert errors[0]["path"] == f"{S0}.max_valeu"
    assert errors[0]["line"] == _line_of(text, '"max_valeu"')
    assert exc.line == errors[0]["line"] and exc.path == errors[0]["path"]


def test_json_syntax_and_duplicate_keys_name_the_line() -> None:
    text = json.dumps(yaml.safe_load(BASE), indent=2)
    broken = text.replace('"type": "tank",', '"type": "tank"', 1)
    exc, _ = _faults(broken, fmt="json")
    assert exc.line == _line_of(broken, '"type": "tank"') + 1
    duplicated = text.replace('"type": "tank",', '"type": "tank",\n"type": "tank",', 1)
    exc, _ = _faults(duplicated, fmt="json")
    assert exc.path == "assets[0].children[1].type" and "duplicate key" in exc.message
    assert exc.line == _line_of(duplicated, '"type": "tank"')


def test_yaml_syntax_error_names_the_line() -> None:
    text = BASE.replace("        sensors:\n", "        sensors: [\n", 1)
    exc, _ = _faults(text)
    assert exc.line is not None and exc.line >= _line_of(text, "sensors: [")
    assert "YAML" in exc.message


def test_all_faults_are_collected() -> None:
    text = BASE
    for old, new, *_ in (CASES[0], CASES[5], CASES[10], CASES[22]):
        text = text.replace(old, new, 1)
    _, errors = _faults(text)
    paths = {e["path"] for e in errors}
    assert {f"{S0}.max_valeu", "relations[0].from", "maintenance[0].at"} <= paths
    assert "work_orders[0].priority" in paths


def test_feeds_loops_are_allowed() -> None:
    text = BASE.replace(
        "relations:\n", "relations:\n  - {from: pump-1, to: tank-1, type: FEEDS}\n", 1
    )
    assert len(parse_plant(text).relations) == 2


def test_sim_and_station_specs() -> None:
    sim = (
        "        sim:\n          model: pmp\n          parameters: {wear: 0.2}\n"
        "          state_map: {pump-1.flow: flow_m3h, pump-1.nope: speed_rpm}\n"
        "          input_map: {pump-1.sp: {name: speed_setpoint_rpm, scale: 1.0}}\n"
    )
    text = BASE.replace("        actuators:\n", sim + "        actuators:\n", 1)
    _, errors = _faults(text, sim_models=MODELS)
    by_path = {e["path"]: e for e in errors}
    model = by_path["assets[0].children[0].sim.model"]
    assert "did you mean 'pump'" in str(model["message"])
    assert by_path["assets[0].children[0].sim.state_map['pump-1.nope']"]["line"] == _line_of(
        text, "pump-1.nope"
    )
    plant = parse_plant(text.replace("pmp", "pump").replace(", pump-1.nope: speed_rpm", ""))
    (spec,) = plant.sims
    assert spec.state_map == {"pump-1.flow": "flow_m3h"}
    assert spec.input_map == {"pump-1.sp": ("speed_setpoint_rpm", 1.0, 0.0)}

    station = "        station: {cycle_time_s: 60, cv: 0.1, mtbf_h: 40, mttr_h: 0.5, buffer_after: tank-1}\n"
    text = BASE.replace("        actuators:\n", station + "        actuators:\n", 1)
    _, errors = _faults(text)
    assert errors[0]["path"] == "assets[0].children[0].station.buffer_capacity"
    with_meta = text.replace(
        "      - id: tank-1\n", "      - id: tank-1\n        metadata: {capacity: 9}\n"
    )
    (st_spec,) = parse_plant(with_meta).stations
    assert (st_spec.buffer_id, st_spec.buffer_capacity, st_spec.cycle_time_s) == ("tank-1", 9, 60)


def test_external_parents_are_opt_in() -> None:
    text = "assets:\n  - {id: line-9, type: line, level: line, parent: site-in-graph}\n"
    _, errors = _faults(text)
    assert errors[0]["path"] == "assets[0].parent"
    (asset,) = parse_plant(text, external_parents=True).assets
    assert asset.parent_id == "site-in-graph"
    assert "parent" in plant_to_dict(parse_plant(text, external_parents=True))["assets"][0]


@pytest.mark.parametrize(
    "text",
    ["", "- 1\n", "x: &a [*a]\n", "assets: !!binary aGVsbG8=\n", "assets: {<<: {a: 1}}\n",
     "assets:\n  - {yes: 1}\n", "a: 1\n---\nb: 2\n", "assets: [" + "[" * 500 + "]" * 501],
)  # fmt: skip
def test_odd_documents_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_plant(text)


def test_alias_bombs_are_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    with pytest.raises(ValidationError, match="too large"):
        parse_plant("\n".join(lines) + "\n")


def test_load_plant_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        load_plant_file(tmp_path / "missing.yaml")
    path = tmp_path / "plant.json"
    path.write_text(json.dumps(yaml.safe_load(BASE)), encoding="utf-8")
    assert load_plant_file(path) == parse_plant(BASE)
    path.write_bytes(b"assets: [\xff]\n")
    with pytest.raises(ValidationError, match="not UTF-8"):
        load_plant_file(path)


# --- properties ----------------------------------------------------------------------------

_VOCAB = [
    "assets", "children", "sensors", "actuators", "id", "name", "type", "level", "parent",
    "min_value", "max_value", "unit", "kind", "sim", "station", "model", "state_map",
    "data_sources", "bindings", "sensor", "actuator", "address", "protocol", "endpoint",
    "relations", "from", "to", "maintenance", "work_orders", "asset", "at", "status",
    "priority", "created_at", "cycle_time_s", "buffer_after", "metadata", "version",
]  # fmt: skip
_LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["equipment", "site", "FEEDS", "pump-1", "modbus", "2025-01-01T00:00:00Z"]),
    st.text(max_size=12),
)
_DOC = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(_VOCAB), st.text(max_size=6)), inner, max_size=5),
    ),
    max_leaves=30,
)
_YAMLISH = st.text(
    alphabet=st.sampled_from(list("abc01-_:{}[],&*!|>'\"#\n  \t.?%@`\\")), max_size=120
)


def _parse_or_refuse(text: str, fmt: str | None) -> None:
    try:
        result = parse_plant(text, fmt=fmt)  # type: ignore[arg-type]
    except ValidationError as exc:
        assert exc.details["errors"]
    else:
        assert isinstance(result, PlantDescription)


@settings(max_examples=300, deadline=None)
@given(_YAMLISH, st.sampled_from(["yaml", "json", None]))
def test_arbitrary_text_only_raises_validation_errors(text: str, fmt: str | None) -> None:
    _parse_or_refuse(text, fmt)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(_VOCAB), _DOC, max_size=5))
def test_arbitrary_documents_only_raise_validation_errors(doc: dict[str, object]) -> None:
    _parse_or_refuse(yaml.safe_dump(doc), "yaml")
    _parse_or_refuse(json.dumps(doc), "json")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_example_only_raises_validation_errors(data: st.DataObject) -> None:
    doc = plant_to_dict(parse_plant(BASE))
    node: object = doc
    for _ in range(data.draw(st.integers(1, 5))):
        if isinstance(node, dict) and node:
            key = data.draw(st.sampled_from(sorted(node)))
            if not isinstance(node[key], dict | list) or data.draw(st.booleans()):
                node[key] = data.draw(_DOC)
                break
            node = node[key]
        elif isinstance(node, list) and node:
            i = data.draw(st.integers(0, len(node) - 1))
            if not isinstance(node[i], dict | list) or data.draw(st.booleans()):
                node[i] = data.draw(_DOC)
                break
            node = node[i]
    _parse_or_refuse(json.dumps(doc), "json")
    _parse_or_refuse(yaml.safe_dump(doc), "yaml")


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 150), st.integers(0, 3), st.integers(0, 2**16))
def test_generated_plants_round_trip(n: int, per_asset: int, seed: int) -> None:
    plant = generate_plant(n, per_asset, seed)
    assert len(plant.assets) == n and len(plant.sensors) == n * per_asset
    for fmt in ("json", "yaml"):
        assert parse_plant(dump_plant(plant, fmt), fmt=fmt).same_content(plant)  # type: ignore[arg-type]
