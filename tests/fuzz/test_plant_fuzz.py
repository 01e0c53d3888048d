"""Plant documents fuzzed through the ``importPlant`` mutation of the served app, and as
files through the loader ``twinql load`` uses: a document is imported or refused with a
coded error and a message, never INTERNAL; a refused import writes nothing (the graph's
counts, its data sources and the document's own ids are as before).

Documents are a small valid plant (fresh ids per example) mutated at random (a node
replaced by arbitrary JSON, ids that collide with what the graph holds, parents that
exist or not), in JSON or YAML, or arbitrary YAML-ish text. The parser's own
properties are in tests/graph/test_plant_file.py; these go through GraphQL and the
graph writes.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import yaml
from hypothesis import event, given, settings
from hypothesis import strategies as st

from graph.errors import ValidationError
from graph.plantfile import PlantDescription, load_plant_file
from sim import MODELS
from tests.fuzz.conftest import U, examples
from tests.support.app import Api
from tests.support.tokens import ADMIN

IMPORT = """mutation($d: String!, $f: PlantFormat) {
  importPlant(document: $d, format: $f) { name counts }
}"""
SNAPSHOT = """query($prefix: String!) {
  graphStats { assets sensors actuators }
  dataSources { id endpoint }
  assets(search: $prefix, first: 100) { edges { node { id name type level } } }
}"""
CODES = {"VALIDATION", "NOT_FOUND"}  # NOT_FOUND: a parent the graph does not hold
_serial = itertools.count()


def base(p: str) -> dict[str, Any]:
    """A valid plant whose ids all start with ``p``."""
    return {
        "name": f"fuzz {p}",
        "assets": [
            {
                "id": f"{p}-site",
                "type": "site",
                "level": "site",
                "children": [
                    {
                        "id": f"{p}-pump",
                        "type": "pump",
                        "level": "equipment",
                        "sensors": [
                            {"id": f"{p}-flow", "kind": "flow", "unit": "m3/h",
                             "min_value": 0, "max_value": 400},
                        ],
                        "actuators": [
                            {"id": f"{p}-sp", "unit": "rpm", "min_value": 0, "max_value": 3000},
                        ],
                    },
                    {"id": f"{p}-tank", "type": "tank", "level": "equipment"},
                ],
            }
        ],
        "data_sources": [
            {
                "id": f"{p}-gw",
                "protocol": "http",
                "endpoint": "http://gw.example/ingest",
                "bindings": [{"sensor": f"{p}-flow", "address": "flow"}],
            }
        ],
        "relations": [{"from": f"{p}-tank", "to": f"{p}-pump", "type": "FEEDS"}],
        "work_orders": [
            {"id": f"{p}-wo", "asset": f"{p}-pump", "status": "done", "priority": 2,
             "created_at": "2025-01-01T00:00:00Z"},
        ],
        "maintenance": [
            {"id": f"{p}-mx", "asset": f"{p}-pump", "kind": "inspection",
             "at": "2025-01-02T08:00:00Z", "work_order": f"{p}-wo"},
        ],
    }  # fmt: skip


ASSET_IDS = ("site", "pump", "tank")
# Ids the graph already holds (the folder's plant): as ids of another kind, or parents.
EXISTING = [f"{U}-site", f"{U}-pump", f"{U}-pt", f"{U}-tt", f"{U}-nothing"]
LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([*EXISTING, "equipment", "site", "FEEDS", "mqtt", "2025-01-01T00:00:00Z"]),
    st.text(max_size=10),
)
VOCAB = [
    "assets", "children", "sensors", "actuators", "id", "name", "type", "level", "parent",
    "min_value", "max_value", "unit", "kind", "sim", "data_sources", "bindings", "sensor",
    "actuator", "address", "protocol", "endpoint", "relations", "from", "to", "maintenance",
    "work_orders", "asset", "at", "status", "priority", "metadata",
]  # fmt: skip
# Values a plant file might well hold: the mutated document often stays importable.
PLAUSIBLE = st.sampled_from(
    [*EXISTING, "equipment", "unit", "line", "pump", "bar", "FEEDS", "DEPENDS_ON", 0, 5, -1, 1e6]
)
DOC = st.recursive(
    LEAF,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(VOCAB) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=15,
)


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, str | None]:
    """(document text, the prefix of its ids, format)."""
    fmt = draw(st.sampled_from(["JSON", "YAML", None]))
    if draw(st.integers(0, 9)) == 0:  # arbitrary text
        text = draw(
            st.text(st.sampled_from(list("ab01-_:{}[],&*!|>'\"#\n \t.?%@`\\")), max_size=80)
        )
        return text, f"{U}-p{next(_serial)}", fmt
    p = f"{U}-p{next(_serial)}"
    doc = base(p)
    for _ in range(draw(st.integers(0, 3))):
        node: Any = doc
        for _ in range(draw(st.integers(1, 6))):
            if isinstance(node, dict) and node:
                key = draw(st.sampled_from(sorted(node)))
                if isinstance(node[key], dict | list) and draw(st.booleans()):
                    node = node[key]
                    continue
                node[key] = draw(PLAUSIBLE | DOC)
                break
            if isinstance(node, list) and node:
                i = draw(st.integers(0, len(node) - 1))
                if isinstance(node[i], dict | list) and draw(st.booleans()):
                    node = node[i]
                    continue
                node[i] = draw(PLAUSIBLE | DOC)
                break
            break
    roots = doc.get("assets")
    if isinstance(roots, list) and roots and isinstance(roots[0], dict) and draw(st.booleans()):
        roots[0]["parent"] = draw(st.sampled_from(EXISTING))  # exists, or does not
    if fmt == "YAML" or (fmt is None and draw(st.booleans())):
        text = yaml.safe_dump(doc, allow_unicode=True)
    else:
        text = json.dumps(doc, allow_nan=True)
    return text, p, fmt


async def _snapshot(api: Api, prefix: str) -> dict[str, Any]:
    data: dict[str, Any] = await api.ok(SNAPSHOT, {"prefix": prefix}, token=ADMIN)
    return data


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(25))
@given(case=mutated())
async def test_import_is_applied_or_refused_whole_never_internal(
    fuzz_api: Api, case: tuple[str, str, str | None]
) -> None:
    text, prefix, fmt = case
    before = await _snapshot(fuzz_api, prefix)
    body = await fuzz_api.gql(IMPORT, {"d": text, "f": fmt}, token=ADMIN)
    if "errors" not in body:
        event("imported")
        assert body["data"]["importPlant"]["counts"], body
        return
    event(f"refused: {body['errors'][0]['extensions'].get('code')}")
    assert body.get("data") is None, body
    error = body["errors"][0]
    assert error["extensions"]["code"] in CODES and error["message"], body["errors"]
    assert "Unexpected error" not in error["message"]
    assert await _snapshot(fuzz_api, prefix) == before  # nothing written
    assert before["assets"]["edges"] == []  # ... the document's fresh ids are still unknown


@settings(parent=settings.get_profile("fuzz"), max_examples=examples(40))
@given(
    case=mutated(),
    suffix=st.sampled_from([".yaml", ".yml", ".json", ".txt", ""]),
    bom=st.booleans(),
    junk=st.none() | st.tuples(st.integers(0, 4000), st.binary(min_size=1, max_size=3)),
)
def test_plant_file_loads_or_is_refused_with_validation(
    tmp_path_factory: pytest.TempPathFactory,
    case: tuple[str, str, str | None],
    suffix: str,
    bom: bool,
    junk: tuple[int, bytes] | None,
) -> None:
    """The loader ``twinql load`` uses, on the file's bytes (a BOM, stray bytes that may
    break UTF-8, any suffix): a plant, or ``ValidationError``."""
    data = case[0].encode()
    if junk is not None:
        at = min(junk[0], len(data))
        data = data[:at] + junk[1] + data[at:]
    path = tmp_path_factory.mktemp("plant") / f"plant{suffix}"
    path.write_bytes(b"\xef\xbb\xbf" + data if bom else data)
    try:
        plant = load_plant_file(path, sim_models=set(MODELS), external_parents=True)
    except ValidationError as exc:
        assert exc.code == "VALIDATION" and exc.message
        event("refused")
    else:
        assert isinstance(plant, PlantDescription)
        event("loaded")
