"""Plant import through GraphQL and through `twinql load`; the CLI's errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import aiomqtt
import httpx
import pytest

from api.cli import EXAMPLE_PLANT
from graph.bolt.client import GraphClient
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.bolt.repository import GraphRepository
from graph.bolt.settings import EmbeddedGraphSettings
from tests.support.app import Api
from tests.support.broker import Mosquitto
from tests.support.polling import eventually
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


async def test_import_moving_a_connected_source_reports_it_and_the_connector_follows(
    api: Api, uid: str, mosquitto_url: str, mosquitto_factory: Mosquitto
) -> None:
    """A live MQTT connector, connected to one broker: a re-import naming another broker
    says so in its result (before, after), and the running connector follows at once:
    a reading published on the new broker arrives."""
    source = (
        "data_sources:\n"
        "  - {{id: {u}-mq, protocol: mqtt, endpoint: '{endpoint}',\n"
        "     settings: {{reconnect_min_s: 0.1, reconnect_max_s: 0.5}},\n"
        "     bindings: [{{sensor: {u}-pt, address: pt}}]}}\n"
    )
    query = (
        "mutation($d: String!) { importPlant(document: $d) "
        "{ endpointChanges { sourceId before after } } }"
    )
    status = "query($id: ID!) { dataSourceStatus(id: $id) { state } }"
    latest = "query($id: ID!) { sensor(id: $id) { latest { value } } }"
    other = mosquitto_factory.url

    async def state() -> str | None:
        found = (await api.ok(status, {"id": f"{uid}-mq"}))["dataSourceStatus"]
        return found["state"] if found else None

    first = DOC.format(u=uid) + source.format(u=uid, endpoint=mosquitto_url)
    assert (await api.ok(query, {"d": first}))["importPlant"]["endpointChanges"] == []
    try:
        await eventually(state, done=lambda s: s == "CONNECTED", within=20, what="connected")
        moved = DOC.format(u=uid) + source.format(u=uid, endpoint=other)
        changed = (await api.ok(query, {"d": moved}))["importPlant"]["endpointChanges"]
        assert changed == [{"sourceId": f"{uid}-mq", "before": mosquitto_url, "after": other}]

        async def published_on_the_new_broker() -> float | None:
            async with aiomqtt.Client("127.0.0.1", mosquitto_factory.port) as device:
                await device.publish(f"assets/{uid}-pump/telemetry", '{"pt": 7.25}', qos=1)
            found = (await api.ok(latest, {"id": f"{uid}-pt"}))["sensor"]["latest"]
            return found["value"] if found else None

        value = await eventually(
            published_on_the_new_broker,
            done=lambda v: v == 7.25,
            within=20,
            every=0.2,
            what="a reading from the new broker",
        )
        assert value == 7.25
    finally:
        await api.ok(
            "mutation($id: ID!) { deleteDataSource(id: $id) { deletedIds } }",
            {"id": f"{uid}-mq"},
        )


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
