"""Plant import through GraphQL and through `twinql load`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from api.cli import EXAMPLE_PLANT
from tests.api.conftest import OPERATOR, Api

DOC = """
name: imported {u}
assets:
  - id: {u}-site
    type: site
    level: site
    children:
      - {{id: {u}-pump, type: pump, level: equipment,
          sensors: [{{id: {u}-pt, kind: pressure, unit: bar, min_value: 0, max_value: 16}}]}}
"""

MUTATION = "mutation($d: String!) { importPlant(document: $d) { name counts seconds } }"


async def test_import_plant_mutation_is_idempotent(api: Api, uid: str) -> None:
    doc = DOC.format(u=uid)
    first = await api.ok(MUTATION, {"d": doc})
    second = await api.ok(MUTATION, {"d": doc})
    assert first["importPlant"]["counts"] == second["importPlant"]["counts"]
    assert first["importPlant"]["counts"]["sensors"] == 1
    data = await api.ok('query { asset(id: "%s-pump") { parent { id } sensors { id } } }' % uid)
    assert data["asset"] == {"parent": {"id": f"{uid}-site"}, "sensors": [{"id": f"{uid}-pt"}]}


async def test_bad_document_names_path_and_line_and_writes_nothing(api: Api, uid: str) -> None:
    bad = DOC.format(u=uid).replace("max_value: 16", "max_valeu: 16")
    body = await api.gql(MUTATION, {"d": bad})
    err = body["errors"][0]
    assert err["extensions"]["code"] == "VALIDATION"
    assert "max_value" in err["message"]  # the "did you mean" hint
    assert err["extensions"]["line"] == 9
    assert "sensors[0]" in err["extensions"]["path"]
    data = await api.ok('query { asset(id: "%s-site") { id } }' % uid)
    assert data["asset"] is None


async def test_import_needs_engineer(api: Api, uid: str) -> None:
    body = await api.gql(MUTATION, {"d": DOC.format(u=uid)}, token=OPERATOR)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_cli_load_check_and_errors(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "api.cli", "load", "--check", str(EXAMPLE_PLANT)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["counts"]["assets"] > 30
    bad = tmp_path / "bad.yaml"
    bad.write_text("assets:\n  - id: a\n    type: pump\n    level: nowhere\n")
    out = subprocess.run(
        [sys.executable, "-m", "api.cli", "load", str(bad), "--data-dir", str(tmp_path / "d")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert "VALIDATION" in out.stderr and "line 4" in out.stderr
