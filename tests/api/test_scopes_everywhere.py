"""A token limited to a subtree changes nothing outside it, whatever the mutation.

Reproduces issue 10 item 1: an operator scoped to one subtree could recordMaintenance
on any asset; a scoped engineer could delete assets, replace or delete any data source,
import a whole plant, cancel any run and push readings anywhere. Here an app of its own
holds tokens scoped to ``{P}-in-site``; ``{P}-out-*`` lies outside.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from api.app import create_app
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from tests.support.app import Api, app_settings, served
from tests.support.plant import pump_line, register
from tests.support.tokens import ADMIN

P = f"scz{secrets.token_hex(3)}"
ENGINEER = "scoped-eng-token-0123456789abcdef"
OPERATOR = "scoped-op-token-0123456789abcdef"
INGEST = "scoped-ingest-token-0123456789abc"
IN, OUT = f"{P}-in", f"{P}-out"


@pytest.fixture(scope="module")
async def scoped(
    graph_server: EmbeddedGraphServer, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Api]:
    port = free_port()
    root = f"{IN}-site"
    tokens = (
        f"{ADMIN}:admin:alice,{ENGINEER}:engineer:eve:{root},"
        f"{OPERATOR}:operator:otto:{root},{INGEST}:ingest:dev:{root}"
    )
    settings = app_settings(graph_server, tmp_path_factory.mktemp("scopes"), port, tokens)
    app = create_app(settings)
    async with served(app, port) as base:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            api = Api(base=base, client=client, services=app.state.services)
            await register(api, pump_line(IN, pumps=1))
            await register(api, pump_line(OUT, pumps=1))
            yield api


async def refused(api: Api, query: str, variables: dict[str, Any], token: str) -> str:
    body = await api.gql(query, variables, token=token)
    assert body.get("errors"), body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN", error
    return str(error["message"])


def asset(id_: str, parent: str | None) -> dict[str, Any]:
    return {"id": id_, "name": id_, "type": "pump", "level": "EQUIPMENT", "parentId": parent}


UPSERT_ASSETS = "mutation($a: [AssetInput!]!) { upsertAssets(assets: $a) { id } }"
DELETE_ASSET = "mutation($id: ID!) { deleteAsset(id: $id, cascade: true) { deletedIds } }"
UPSERT_SENSORS = "mutation($s: [SensorInput!]!) { upsertSensors(sensors: $s) { id } }"
RECORD = (
    "mutation($e: [MaintenanceEventInput!]) { recordMaintenance(events: $e) { events { id } } }"
)


def sensor(id_: str, asset_id: str) -> dict[str, Any]:
    return {"id": id_, "assetId": asset_id, "name": "T", "kind": "temperature", "unit": "degC"}


def event(id_: str, asset_id: str) -> dict[str, Any]:
    return {"id": id_, "assetId": asset_id, "kind": "repair", "at": "2026-01-01T00:00:00Z"}


async def test_assets_change_only_inside_the_scope(scoped: Api) -> None:
    api = scoped
    await api.ok(UPSERT_ASSETS, {"a": [asset(f"{IN}-new", f"{IN}-line")]}, token=ENGINEER)
    message = await refused(
        api, UPSERT_ASSETS, {"a": [asset(f"{OUT}-new", f"{OUT}-line")]}, ENGINEER
    )
    assert f"asset {OUT}-line is outside" in message
    # Moving an outside asset in, an inside one out, or a new top-level asset: refused.
    await refused(api, UPSERT_ASSETS, {"a": [asset(f"{OUT}-p0", f"{IN}-line")]}, ENGINEER)
    await refused(api, UPSERT_ASSETS, {"a": [asset(f"{IN}-p0", f"{OUT}-line")]}, ENGINEER)
    top = {**asset(f"{P}-top", None), "level": "SITE"}
    await refused(api, UPSERT_ASSETS, {"a": [top]}, ENGINEER)
    await refused(api, DELETE_ASSET, {"id": f"{OUT}-tank"}, ENGINEER)
    await api.ok(DELETE_ASSET, {"id": f"{IN}-new"}, token=ENGINEER)
    relate = "mutation($r: [RelationInput!]!) { connectAssets(relations: $r) }"
    cross = [{"sourceId": f"{IN}-tank", "targetId": f"{OUT}-p0", "type": "FEEDS"}]
    await refused(api, relate, {"r": cross}, ENGINEER)


async def test_sensors_and_actuators_change_only_inside_the_scope(scoped: Api) -> None:
    api = scoped
    await api.ok(UPSERT_SENSORS, {"s": [sensor(f"{IN}-p0-t", f"{IN}-p0")]}, token=ENGINEER)
    await refused(api, UPSERT_SENSORS, {"s": [sensor(f"{OUT}-p0-t", f"{OUT}-p0")]}, ENGINEER)
    # An outside sensor re-declared on an inside asset: still outside (where it is now).
    await refused(api, UPSERT_SENSORS, {"s": [sensor(f"{OUT}-p0-pt", f"{IN}-p0")]}, ENGINEER)
    delete = "mutation($id: ID!) { deleteSensor(id: $id, cascade: true) { deletedIds } }"
    await refused(api, delete, {"id": f"{OUT}-p0-pt"}, ENGINEER)
    delete_x = "mutation($id: ID!) { deleteActuator(id: $id, cascade: true) { deletedIds } }"
    await refused(api, delete_x, {"id": f"{OUT}-p0-sp"}, ENGINEER)


async def test_plant_wide_changes_need_an_unscoped_token(scoped: Api) -> None:
    api = scoped
    message = await refused(
        api,
        "mutation($d: String!) { importPlant(document: $d) { name } }",
        {"d": "name: x\nassets: []\n"},
        ENGINEER,
    )
    assert "importPlant needs a token without scopes" in message
    source = {"id": f"{P}-src", "protocol": "MODBUS", "endpoint": "modbus://127.0.0.1:1"}
    await refused(
        api,
        "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id } }",
        {"s": source},
        ENGINEER,
    )
    await refused(
        api,
        "mutation($id: ID!) { deleteDataSource(id: $id) { deletedIds } }",
        {"id": f"{P}-src"},
        ENGINEER,
    )


async def test_maintenance_only_inside_the_scope(scoped: Api) -> None:
    api = scoped
    await api.ok(RECORD, {"e": [event(f"{IN}-m1", f"{IN}-p0")]}, token=OPERATOR)
    message = await refused(api, RECORD, {"e": [event(f"{OUT}-m1", f"{OUT}-p0")]}, OPERATOR)
    assert f"asset {OUT}-p0 is outside" in message
    both = {"e": [event(f"{IN}-m2", f"{IN}-p0"), event(f"{OUT}-m2", f"{OUT}-p0")]}
    await refused(api, RECORD, both, OPERATOR)
    history = 'query { maintenanceHistory(assetId: "%s-p0") { nodes { id } } }'
    assert (await api.ok(history % OUT))["maintenanceHistory"]["nodes"] == []


async def test_cancelling_a_run_outside_the_scope(scoped: Api) -> None:
    api = scoped
    run = await api.ok(
        'mutation { runSimulation(assetId: "%s-p0", scenario: {model: "pump", '
        "horizonSeconds: 10}) { id } }" % OUT
    )
    run_id = run["runSimulation"]["id"]
    message = await refused(
        api, "mutation($id: ID!) { cancelSimulation(id: $id) { id } }", {"id": run_id}, ENGINEER
    )
    assert f"asset {OUT}-p0 is outside" in message


async def test_pushed_readings_outside_the_scope_are_refused_one_by_one(scoped: Api) -> None:
    api = scoped
    readings = [
        {"sensor_id": f"{IN}-p0-pt", "value": 3.0},
        {"sensor_id": f"{OUT}-p0-pt", "value": 4.0},
    ]
    r = await api.client.post(
        "/ingest", json=readings, headers={"Authorization": f"Bearer {INGEST}"}
    )
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (1, 1)
    (error,) = out["errors"]
    assert (error["index"], error["sensor_id"], error["code"]) == (1, f"{OUT}-p0-pt", "FORBIDDEN")
    assert "outside this token's scope" in error["reason"]
    columns = {"sensor_id": [f"{OUT}-p0-pt", f"{IN}-p0-pt"], "value": [5.0, 6.0]}
    r = await api.client.post(
        "/ingest", json=columns, headers={"Authorization": f"Bearer {INGEST}"}
    )
    out = r.json()
    assert (r.status_code, out["accepted"], out["rejected"]) == (200, 1, 1), r.text
    assert [(e["index"], e["code"]) for e in out["errors"]] == [(0, "FORBIDDEN")]
    body = await api.ok(
        "mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) "
        "{ accepted rejected errors { index code reason } } }",
        {
            "r": [
                {"sensorId": f"{OUT}-p0-pt", "value": 1.0},
                {"sensorId": f"{IN}-p0-pt", "value": 2.0},
            ]
        },
        token=INGEST,
    )
    result = body["ingestReadings"]
    assert (result["accepted"], result["rejected"]) == (1, 1)
    assert (result["errors"][0]["index"], result["errors"][0]["code"]) == (0, "FORBIDDEN")
    await api.services.ingest.writer.flush()
    letters = await api.ok(
        "query($s: ID) { rejectedReadings(sensorId: $s) { reason } }", {"s": f"{OUT}-p0-pt"}
    )
    assert len(letters["rejectedReadings"]) == 3  # the object, the column, the mutation


async def test_setpoints_outside_the_scope(scoped: Api) -> None:
    message = await refused(
        scoped,
        'mutation { writeSetpoint(actuatorId: "%s-p0-sp", value: 100, reason: "x") { status } }'
        % OUT,
        {},
        OPERATOR,
    )
    assert "outside" in message
