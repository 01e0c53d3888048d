"""Plant import through GraphQL and through `twinql load`; the CLI's errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.cli import EXAMPLE_PLANT
from graph.bolt.client import GraphClient
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.bolt.repository import GraphRepository
from graph.bolt.settings import EmbeddedGraphSettings
from tests.support.app import Api
from tests.support.serving import serve, wait_ready
from tests.support.tokens import OPERATOR

CLI_ENV = {**os.environ, "TWINQL_GRAPH_HEAP": "512m"}


def twinql(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env or CLI_ENV,
    )


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


async def test_import_plant_reports_changed_data_source_endpoints(api: Api, uid: str) -> None:
    """Re-importing a plant whose data source points elsewhere rewires a live connector:
    the result says which, from where to where."""
    source = (
        "data_sources:\n"
        "  - {{id: {u}-gw, protocol: http, endpoint: '{endpoint}',\n"
        "     bindings: [{{sensor: {u}-pt, address: pt}}]}}\n"
    )
    query = (
        "mutation($d: String!) { importPlant(document: $d) "
        "{ endpointChanges { sourceId before after } } }"
    )
    first = DOC.format(u=uid) + source.format(u=uid, endpoint="http://a.example/ingest")
    assert (await api.ok(query, {"d": first}))["importPlant"]["endpointChanges"] == []
    again = await api.ok(query, {"d": first})
    assert again["importPlant"]["endpointChanges"] == []
    moved = DOC.format(u=uid) + source.format(u=uid, endpoint="http://b.example/ingest")
    changed = (await api.ok(query, {"d": moved}))["importPlant"]["endpointChanges"]
    assert changed == [
        {
            "sourceId": f"{uid}-gw",
            "before": "http://a.example/ingest",
            "after": "http://b.example/ingest",
        }
    ]


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


def test_cli_load_touches_the_graph_only(tmp_path: Path) -> None:
    """`twinql load` starts no readings store, connectors or devices: it works while
    another process holds the DuckDB file of the data directory."""
    data = tmp_path / "data"
    data.mkdir()
    plant = tmp_path / "plant.yaml"
    plant.write_text(DOC.format(u="cli"))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('locked', flush=True); time.sleep(600)", str(data / "readings.duckdb")],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        out = twinql("load", str(plant), "--data-dir", str(data))
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["counts"]["sensors"] == 1
    finally:
        holder.kill()
        holder.wait()
    assert not (data / "spill").exists()  # the ingest pipeline never started
    assert not (data / "tokens.json").exists()  # nor the API
    assert asyncio.run(_parent_of(data, "cli-pump")) == "cli-site"


async def _parent_of(data: Path, asset_id: str) -> str | None:
    async with EmbeddedGraphServer(EmbeddedGraphSettings(data_dir=data, heap="512m")) as server:
        async with GraphClient(server.graph_settings()) as client:
            return (await GraphRepository(client).assets.get(asset_id)).parent_id


def test_cli_load_refuses_a_directory_a_running_twinql_serves(tmp_path: Path) -> None:
    """A load behind a running service's back would rewire its connectors without a word
    (the shipped example once moved a live MQTT connector to another broker): refused,
    pointing to importPlant; nothing is written."""
    data, log = tmp_path / "data", tmp_path / "serve.log"
    plant = tmp_path / "plant.yaml"
    plant.write_text(DOC.format(u="live"))
    port = free_port()
    server = serve(data, port, log, CLI_ENV)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(server, port, log)
        out = twinql("load", str(plant), "--data-dir", str(data))
        assert out.returncode == 2, out.stderr
        assert out.stderr.startswith(f"twinql: CONFLICT: a running twinql (pid {server.pid})")
        assert "importPlant" in out.stderr and "Traceback" not in out.stderr
        body = httpx.post(
            f"{base}/graphql", json={"query": '{ asset(id: "live-pump") { id } }'}
        ).json()
        assert body["data"]["asset"] is None
        checked = twinql("load", "--check", str(plant), "--data-dir", str(data))
        assert checked.returncode == 0, checked.stderr
    finally:
        server.terminate()
        server.wait(timeout=60)


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["serve"], {"TWINQL_PORT": "x"}, "twinql: VALIDATION: TWINQL_PORT must be an integer"),
        (["--log-level", "bogus", "serve"], {}, "twinql: VALIDATION: log level must be one of"),
        (["export-schema"], {"TWINQL_LOG_LEVEL": "loud"}, "twinql: VALIDATION: log level"),
    ],
)
def test_cli_bad_settings_are_a_clear_error(
    tmp_path: Path, args: list[str], env: dict[str, str], expected: str
) -> None:
    out = twinql(*args, env={**CLI_ENV, "TWINQL_DATA_DIR": str(tmp_path), **env})
    assert out.returncode == 2
    assert out.stderr.startswith(expected), out.stderr
    assert "Traceback" not in out.stderr
