"""docs/plant.schema.json: current with the checker's key specs, a valid JSON Schema
(2020-12), accepting every plant the checker accepts (the example plant, the plant-file
tests' base plant, dumps, generated plants) and refusing the single-value faults the
checker refuses; what spans entries (unique ids, references, level order) stays the
checker's alone."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from api.cli import EXAMPLE_PLANT
from bench.gen_plant import generate_plant
from graph.errors import ValidationError
from graph.plantfile import parse_plant, plant_to_dict
from graph.plantfile.fields import ACTUATOR, ASSET, ASSET_NESTED, SENSOR, SOURCE, TOP
from graph.plantfile.schema import plant_json_schema
from graph.plantfile.text import load_yaml
from tests.graph.test_plant_file import BASE, CASES

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "docs" / "plant.schema.json"
SCHEMA = plant_json_schema()
VALIDATOR = jsonschema.Draft202012Validator(
    SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
)


def _problems(doc: object) -> list[str]:
    return [f"{e.json_path}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


def test_the_committed_schema_is_current() -> None:
    committed = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert committed == SCHEMA, "docs/plant.schema.json is stale: run python docs/generate.py"


def test_the_schema_is_a_valid_2020_12_schema_covering_every_key() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert set(SCHEMA["properties"]) == set(TOP)
    defs = SCHEMA["$defs"]
    assert set(defs["asset"]["properties"]) == {*ASSET, *ASSET_NESTED}
    for name, spec in (("sensor", SENSOR), ("actuator", ACTUATOR)):
        assert set(defs[name]["properties"]) == set(spec)
        assert defs[name]["required"] == [k for k, (_, req) in spec.items() if req]
    assert set(defs["dataSource"]["properties"]) == {*SOURCE, "bindings"}


def test_plants_the_checker_accepts_pass_the_schema() -> None:
    text = EXAMPLE_PLANT.read_text(encoding="utf-8")
    example, _ = load_yaml(text)
    assert _problems(example) == []
    assert _problems(load_yaml(BASE)[0]) == []
    # What twinql writes back (dump) and generated plants, through JSON.
    assert _problems(json.loads(json.dumps(plant_to_dict(parse_plant(text))))) == []
    for seed in range(3):
        plant = generate_plant(300, 3, seed=seed)
        assert _problems(json.loads(json.dumps(plant_to_dict(plant)))) == []


# The plant-file tests' faults that sit in one value or one entry: the schema refuses them.
# The others span entries (duplicate or unknown ids, level order, a work order of another
# asset, an actuator on a read-only register) or need a calendar (2025-02-30).
LOCAL_FAULTS = {
    ("assets[0].children[0].sensors[0].max_valeu", "did you mean 'max_value'"),
    ("assets[0].children[0].level", "did you mean 'equipment'"),
    ("assets[0].children[0].sensors[0].unit", "expected a string, got integer"),
    ("data_sources[0].id", "quote it"),
    ("maintenance[0].at", "RFC 3339"),
    ("data_sources[0].bindings[0]", "exactly one of"),
    ("data_sources[0].bindings[0].address", "modbus address must be"),
    ("relatoins", "did you mean 'relations'"),
    ("relations[0].type", "did you mean 'FEEDS'"),
    ("work_orders[0].priority", "from 1 to 5"),
    ("data_sources[0].protocol", "did you mean 'modbus'"),
    ("assets[0].children[1].lat", "within [-90, 90]"),
}


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [(old, new, path) for old, new, path, _, part in CASES if (path, part) in LOCAL_FAULTS],
)
def test_single_value_faults_fail_the_schema_too(old: str, new: str, path: str) -> None:
    text = BASE.replace(old, new, 1)
    with pytest.raises(ValidationError):
        parse_plant(text)
    assert _problems(load_yaml(text)[0]), f"the schema accepts the fault at {path}"


def test_the_local_faults_are_in_the_plant_file_cases() -> None:
    assert LOCAL_FAULTS <= {(path, part) for _, _, path, _, part in CASES}
