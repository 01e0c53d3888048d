"""A viewer of site A never receives anything of site B (issue 10: "scopes apply
everywhere: every query and every subscription").

Two sites under one enterprise, with process relations across them (A's pump feeds B's
tank, B's pump feeds A's tank), readings, dead letters, alerts, maintenance, a work
order, a simulation run, a job, a setpoint command and a data source on each. Every root query
and subscription of the schema has cases here (a field added later without one fails
``test_every_query_and_subscription_has_scope_cases``), each run through the real app
over HTTP or WebSocket by ``VIEWER_A`` (a viewer of site A; ``ENGINEER_A`` where the
field needs an engineer, ``ADMIN_A`` where it needs an admin):

- ``lookup``: the call names something of B; it answers exactly as the same call naming
  an unknown id (null, an empty list or ``NOT_FOUND``, with the same message): what is
  outside does not even show that it exists;
- ``list``: the call names something of A (or nothing); B is in the admin's answer and
  not in the scoped caller's;
- ``plant``: the field spans the plant; the scoped caller is refused with ``FORBIDDEN``.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from api.permissions import READ
from graph.model import WorkOrder, WorkOrderStatus
from tests.api.test_alerts_api import post
from tests.api.test_permission_matrix import GQL, roles_of
from tests.support.app import Api
from tests.support.plant import pump_line, register
from tests.support.polling import eventually
from tests.support.tokens import ADMIN, ADMIN_A, ENGINEER_A, INGEST, SITE_A, VIEWER_A
from tests.support.wsclient import connect

A = SITE_A.removesuffix("-site")  # pump_line(A) makes SITE_A
U = f"srd{secrets.token_hex(3)}"
B = f"{U}b"  # everything of site B (and the enterprise) carries U
W = secrets.token_hex(4)  # work orders' ids: A's must not carry U
UNKNOWN = f"{U.replace('srd', 'zzz')}b"  # an id prefix that names nothing

Case = tuple[str, str]  # (kind, document with {A}, {B}, {cmd}, {run}, {alert}, {job})

QUERY_CASES: dict[str, list[Case]] = {
    "asset": [
        ("lookup", '{ asset(id: "{B}-p0") { id } }'),
        (
            "list",
            '{ asset(id: "{A}-p0") { parent { id } ancestors { id } '
            "relations { sourceId targetId source { id } target { id } } "
            "impact { assetId path } rootCauses { assetId path } "
            "neighbourhood(hops: 3) { nodes { id } edges { source target } } } }",
        ),
        ("list", '{ asset(id: "{A}-site") { parent { id } ancestors { id } } }'),
    ],
    "assets": [
        ("list", '{ assets(first: 500, search: "%s") { nodes { id } } }' % U),
        ("list", '{ assets(first: 500, search: "%s", level: SITE) { nodes { id } } }' % U),
    ],
    "sensor": [("lookup", '{ sensor(id: "{B}-p0-pt") { id asset { id } } }')],
    "sensors": [("lookup", '{ sensors(ids: ["{B}-p0-pt", "{A}-p0-pt"]) { id } }')],
    "actuator": [("lookup", '{ actuator(id: "{B}-p0-sp") { id asset { id } } }')],
    "impact": [
        ("lookup", '{ impact(assetId: "{B}-tank") { assetId } }'),
        ("list", '{ impact(assetId: "{A}-tank") { assetId path asset { id } } }'),
    ],
    "rootCauses": [
        ("lookup", '{ rootCauses(assetId: "{B}-tank") { assetId } }'),
        ("list", '{ rootCauses(assetId: "{A}-p0") { assetId path asset { id } } }'),
    ],
    "path": [("lookup", '{ path(fromId: "{A}-tank", toId: "{B}-tank") { assetIds } }')],
    "neighbourhood": [
        ("lookup", '{ neighbourhood(assetId: "{B}-p0") { nodes { id } } }'),
        ("list", '{ neighbourhood(assetId: "{A}-p0", hops: 3) { nodes { id } edges { source } } }'),
    ],
    "maintenanceHistory": [
        ("lookup", '{ maintenanceHistory(assetId: "{B}-site") { nodes { id } } }'),
    ],
    "dataSources": [("plant", "{ dataSources { id sensorBindings { sensorId } } }")],
    "graphStats": [("plant", "{ graphStats { assets } }")],
    "rejectedReadings": [
        ("lookup", '{ rejectedReadings(sensorId: "{B}-p0-pt") { sensorId raw } }'),
        ("plant", "{ rejectedReadings(limit: 1000) { sensorId raw } }"),
    ],
    "readings": [
        ("lookup", '{ readings(sensorIds: ["{A}-p0-pt", "{B}-p0-pt"]) { series { sensorId } } }'),
    ],
    "setpointCommand": [("lookup", '{ setpointCommand(id: "{cmd}") { id actuator { id } } }')],
    "dataSourceStatus": [("plant", '{ dataSourceStatus(id: "{B}-src") { state } }')],
    "simulationModels": [],  # the models this service runs: nothing of any site
    "simulationSpec": [("lookup", '{ simulationSpec(assetId: "{B}-p0") { model } }')],
    "simulationRun": [("lookup", '{ simulationRun(id: "{run}") { id asset { id } } }')],
    "simulationRuns": [("lookup", '{ simulationRuns(assetId: "{B}-p0") { nodes { id } } }')],
    "lineBottleneck": [("lookup", '{ lineBottleneck(lineId: "{B}-line", hours: 1) { lineId } }')],
    "alerts": [
        ("lookup", '{ alerts(assetId: "{B}-site") { nodes { id assetId } } }'),
        ("list", "{ alerts(first: 200) { nodes { id assetId sensorId } } }"),
    ],
    "alert": [("lookup", '{ alert(id: "{alert}") { id assetId } }')],
    "serviceStatus": [("plant", "{ serviceStatus { __typename } }")],
    "apiKeys": [("plant", "{ apiKeys { id } }")],
    "auditLog": [("plant", "{ auditLog(first: 5) { operation } }")],
    "workOrders": [
        ("lookup", '{ workOrders(assetId: "{B}-p0") { nodes { id } } }'),
        ("list", "{ workOrders(first: 200) { nodes { id asset { id } } } }"),
    ],
    "healthHistory": [
        ("lookup", '{ healthHistory(assetId: "{B}-p0") { edges { node { id assetId } } } }'),
    ],
    "anomalyModels": [
        ("lookup", '{ anomalyModels(assetId: "{B}-p0") { id assetId } }'),
    ],
    "oee": [
        (
            "lookup",
            '{ oee(assetId: "{B}-line", from: "2026-01-01T00:00:00Z", '
            'to: "2026-01-01T01:00:00Z") { oee } }',
        ),
    ],
    "job": [("lookup", '{ job(id: "{job}") { id assetId asset { id } status } }')],
    "jobs": [("lookup", '{ jobs(assetId: "{B}-p0") { id assetId } }')],
}

SUBSCRIPTION_CASES: dict[str, list[str]] = {
    "liveReadings": [
        'subscription { liveReadings(sensorIds: ["{A}-p0-pt", "{B}-p0-pt"]) { missed } }',
        'subscription { liveReadings(assetId: "{B}-site") { missed } }',
    ],
    "liveReadingBatches": [
        'subscription { liveReadingBatches(sensorIds: ["{A}-p0-pt", "{B}-p0-pt"]) { missed } }',
        'subscription { liveReadingBatches(assetId: "{B}-site") { missed } }',
    ],
    "assetEvents": ['subscription { assetEvents(assetId: "{B}-site") { kind } }'],
    "setpointOutcomes": [
        'subscription { setpointOutcomes(actuatorIds: ["{B}-p0-sp"]) { missed } }',
        'subscription { setpointOutcomes(assetId: "{B}-line") { missed } }',
    ],
    "simulationProgress": ['subscription { simulationProgress(runId: "{run}") { status } }'],
    "alerts": ['subscription { alerts(assetId: "{B}-site") { kind } }'],
    "healthChanges": ['subscription { healthChanges(assetId: "{B}-site") { missed } }'],
    "jobProgress": ['subscription { jobProgress(jobId: "{job}") { status } }'],
}


def test_every_query_and_subscription_has_scope_cases() -> None:
    assert GQL.query_type is not None and GQL.subscription_type is not None
    assert set(QUERY_CASES) == set(GQL.query_type.fields)
    assert set(SUBSCRIPTION_CASES) == set(GQL.subscription_type.fields)
    assert all(SUBSCRIPTION_CASES.values())
    # Only fields that carry nothing of any asset may go without a case.
    assert [n for n, cases in QUERY_CASES.items() if not cases] == ["simulationModels"]


def _two_sites() -> list[dict[str, Any]]:
    return [
        {"id": f"{U}-ent", "name": "Enterprise", "type": "enterprise", "level": "ENTERPRISE"},
        *(
            {"id": f"{s}-site", "name": "Site", "type": "site", "level": "SITE",
             "parentId": f"{U}-ent"}
            for s in (A, B)
        ),
    ]  # fmt: skip


async def _ingest_ndjson(api: Api, lines: list[dict[str, Any]]) -> None:
    r = await api.client.post(
        "/ingest",
        content="\n".join(json.dumps(x) for x in lines),
        headers={"Authorization": f"Bearer {INGEST}", "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
async def sites(api: Api) -> dict[str, str]:
    """Site A (the scoped viewer's) and site B, with something of every kind on each."""
    ids: dict[str, str] = {}
    for s in (A, B):
        plant = pump_line(s, pumps=1)
        plant.sensors[0]["warnHigh"] = 12  # alerts above 12 bar
        await register(api, plant)
    await api.ok(
        "mutation($a: [AssetInput!]!) { upsertAssets(assets: $a) { id } }", {"a": _two_sites()}
    )
    await api.ok(
        "mutation($r: [RelationInput!]!) { connectAssets(relations: $r) }",
        {
            "r": [
                {"sourceId": f"{A}-p0", "targetId": f"{B}-tank", "type": "FEEDS"},
                {"sourceId": f"{B}-p0", "targetId": f"{A}-tank", "type": "FEEDS"},
            ]
        },
    )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    for s in (A, B):
        await api.ok(
            "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id } }",
            {
                "s": {
                    "id": f"{s}-src",
                    "protocol": "HTTP",
                    "endpoint": "http://127.0.0.1:9/",
                    "sensorBindings": [{"sensorId": f"{s}-p0-ft", "address": "ft"}],
                }
            },
        )
        await post(api, f"{s}-p0-pt", start, 3.0, 20.0, 21.0, 22.0)  # above 12 bar, 3 times
        await _ingest_ndjson(api, [{"sensor_id": f"{s}-p0-pt", "value": 3.5, "unit": "psi"}])
        await api.ok(
            "mutation($e: [MaintenanceEventInput!]!) { recordMaintenance(events: $e) { __typename } }",
            {
                "e": [
                    {
                        "id": f"{s}-m",
                        "assetId": f"{s}-p0",
                        "kind": "repair",
                        "at": start.isoformat(),
                    }
                ]
            },
        )
        await api.services.repo.work_orders.open_for_asset(
            WorkOrder(f"{s}-wo-{W}", f"{s}-p0", WorkOrderStatus.OPEN, 2, datetime.now(UTC))
        )
        await api.ok('mutation { assessHealth(assetId: "%s-p0") { assetId } }' % s)
        run = await api.ok(
            'mutation { runSimulation(assetId: "%s-p0", scenario: {model: "pump", '
            "horizonSeconds: 60}) { id } }" % s
        )
        ids[f"run-{s}"] = run["runSimulation"]["id"]
        job = await api.ok(
            'mutation { trainAnomalyModel(assetId: "%s-p0", from: "%s", to: "%s") { id } }'
            % (s, start.isoformat(), (start + timedelta(minutes=5)).isoformat())
        )
        ids[f"job-{s}"] = job["trainAnomalyModel"]["id"]
        write = await api.gql(
            'mutation { writeSetpoint(actuatorId: "%s-p0-sp", value: 1.0) { id } }' % s
        )
        ids[f"cmd-{s}"] = write["errors"][0]["extensions"]["commandId"]
    await api.services.ingest.writer.flush()
    for s in (A, B):

        async def raised(site: str = s) -> list[Any]:
            q = '{ alerts(assetId: "%s-site", active: true) { nodes { id } } }' % site
            return (await api.ok(q))["alerts"]["nodes"]

        found = await eventually(raised, done=bool, what=f"an alert on {s}")
        ids[f"alert-{s}"] = found[0]["id"]

        async def rejected(site: str = s) -> list[Any]:
            q = '{ rejectedReadings(sensorId: "%s-p0-pt") { raw } }' % site
            return (await api.ok(q))["rejectedReadings"]

        await eventually(rejected, done=bool, what=f"a dead letter of {s}")
    return ids


def _fill(doc: str, ids: dict[str, str], outside: str) -> str:
    """The document naming site B's things (``outside`` = B) or unknown ones."""
    known = outside == B
    return (
        doc.replace("{A}", A)
        .replace("{B}", outside)
        .replace("{cmd}", ids["cmd-" + B] if known else f"{UNKNOWN}-cmd")
        .replace("{run}", ids["run-" + B] if known else f"{UNKNOWN}-run")
        .replace("{alert}", ids["alert-" + B] if known else f"{UNKNOWN}-alert")
        .replace("{job}", ids["job-" + B] if known else f"{UNKNOWN}-job")
    )


def _normalised(body: dict[str, Any], ids: dict[str, str]) -> str:
    text = json.dumps(body, sort_keys=True)
    for key in ("cmd", "run", "alert", "job"):
        text = text.replace(ids[f"{key}-{B}"], f"{UNKNOWN}-{key}")
    return text.replace(B, UNKNOWN)


def _scoped_token(field: str) -> str:
    role = roles_of("Query")[field]
    return {READ: VIEWER_A, "admin": ADMIN_A}.get(role or READ, ENGINEER_A)


QUERY_PARAMS = [
    (name, i, kind, doc)
    for name, cases in QUERY_CASES.items()
    for i, (kind, doc) in enumerate(cases)
]


@pytest.mark.parametrize(("name", "i", "kind", "doc"), QUERY_PARAMS, ids=lambda x: str(x)[:30])
async def test_a_viewer_of_site_a_receives_nothing_of_site_b(
    api: Api, sites: dict[str, str], name: str, i: int, kind: str, doc: str
) -> None:
    token = _scoped_token(name)
    query = _fill(doc, sites, B)
    scoped = await api.gql(query, token=token)
    admin = await api.gql(query, token=ADMIN)
    assert U not in json.dumps(scoped.get("data")), scoped  # U: B and the enterprise
    if kind == "plant":
        codes = {e["extensions"]["code"] for e in scoped["errors"]}
        assert codes == {"FORBIDDEN"} and "without scopes" in scoped["errors"][0]["message"]
        assert "errors" not in admin, admin
        return
    if kind == "list":
        assert "errors" not in scoped and "errors" not in admin, (scoped, admin)
        assert U in json.dumps(admin["data"]), admin  # the call does reach outside A
        return
    # lookup: exactly as unknown; the admin sees B (where the field answers for B at all)
    unknown = await api.gql(_fill(doc, sites, UNKNOWN), token=token)
    assert _normalised(scoped, sites) == json.dumps(unknown, sort_keys=True)
    # B has no station, sim spec, anomaly model or HVAC zone: nothing for the admin to see
    if name not in {"lineBottleneck", "simulationSpec", "anomalyModels", "oee"}:
        assert U in json.dumps(admin.get("data")) or sites[f"run-{B}"] in json.dumps(admin)


async def test_a_viewer_of_site_a_sees_site_a(api: Api, sites: dict[str, str]) -> None:
    data = await api.ok(
        "{ roots: assets(rootsOnly: true, first: 500) { nodes { id } } "
        'asset(id: "%s-p0") { id sensors { id latest { value } } maintenance { nodes { id } } '
        "workOrders { id } alerts { id } relations { sourceId targetId } "
        "impact { assetId } rootCauses { assetId } } "
        'alert(id: "%s") { id } setpointCommand(id: "%s") { id } '
        'simulationRun(id: "%s") { id } }'
        % (A, sites[f"alert-{A}"], sites[f"cmd-{A}"], sites[f"run-{A}"]),
        token=VIEWER_A,
    )
    assert data["roots"]["nodes"] == [{"id": SITE_A}]
    pump = data["asset"]
    assert pump["id"] == f"{A}-p0" and {s["id"] for s in pump["sensors"]} == {
        f"{A}-p0-pt",
        f"{A}-p0-ft",
    }
    assert pump["maintenance"]["nodes"] and pump["workOrders"] and pump["alerts"]
    assert pump["relations"] == [{"sourceId": f"{A}-tank", "targetId": f"{A}-p0"}]
    assert pump["impact"] == [] and pump["rootCauses"] == [{"assetId": f"{A}-tank"}]
    assert data["alert"] and data["setpointCommand"] and data["simulationRun"]


SUBSCRIPTION_PARAMS = [(n, d) for n, docs in SUBSCRIPTION_CASES.items() for d in docs]


@pytest.mark.parametrize(("name", "doc"), SUBSCRIPTION_PARAMS, ids=lambda x: str(x)[:40])
async def test_out_of_scope_subscriptions_are_refused_as_unknown(
    api: Api, sites: dict[str, str], name: str, doc: str
) -> None:
    answers = []
    for outside in (B, UNKNOWN):
        async with connect(api.base, VIEWER_A) as ws:
            await ws.subscribe(_fill(doc, sites, outside))
            answers.append(await ws.error())
    refused, unknown = answers
    assert [e["extensions"]["code"] for e in refused] == ["NOT_FOUND"], refused
    assert _normalised({"e": refused}, sites) == json.dumps({"e": unknown}, sort_keys=True)


async def test_plant_wide_subscriptions_deliver_only_site_a(
    api: Api, sites: dict[str, str]
) -> None:
    """Alerts of the whole plant and setpoint outcomes of every actuator: B's come
    first, A's after; the viewer of A receives A's first."""
    async with connect(api.base, VIEWER_A) as ws:
        hub = api.services.alerts.changes
        before = hub.subscribers
        await ws.subscribe("subscription { alerts { kind alert { assetId sensorId } } }")
        await eventually(lambda: hub.subscribers > before, within=5, what="subscribed")
        await api.ok(
            'mutation { acknowledgeAlert(id: "%s", note: "b") { id } }' % sites[f"alert-{B}"]
        )
        await api.ok(
            'mutation { acknowledgeAlert(id: "%s", note: "a") { id } }' % sites[f"alert-{A}"]
        )
        got = await ws.next()
        assert got["alerts"]["alert"]["assetId"].startswith(A), got
    async with connect(api.base, VIEWER_A) as ws:
        outcomes = api.services.control.outcomes
        before = outcomes.subscribers
        await ws.subscribe("subscription { setpointOutcomes { command { actuatorId } } }")
        await eventually(lambda: outcomes.subscribers > before, within=5, what="subscribed")
        for s in (B, A):
            await api.gql(
                'mutation { writeSetpoint(actuatorId: "%s-p0-sp", value: 2.0) { id } }' % s
            )
        got = await ws.next()
        assert got["setpointOutcomes"]["command"]["actuatorId"] == f"{A}-p0-sp", got


async def test_a_viewer_of_site_a_follows_site_a_live(api: Api, sites: dict[str, str]) -> None:
    """In scope, subscriptions work as for any viewer: A's readings arrive, B's never."""
    async with connect(api.base, VIEWER_A) as ws:
        bus = api.services.ingest.bus
        before = bus.subscribers
        await ws.subscribe(
            'subscription { liveReadings(assetId: "%s") { readings { sensorId value } } }' % SITE_A
        )
        await eventually(lambda: bus.subscribers > before, within=5, what="subscribed")
        now = datetime.now(UTC).replace(microsecond=0)
        await post(api, f"{B}-p0-ft", now, 7.0)
        await post(api, f"{A}-p0-ft", now, 5.0)
        got = await ws.next()
        assert got["liveReadings"]["readings"] == [{"sensorId": f"{A}-p0-ft", "value": 5.0}]


async def test_a_viewer_of_site_a_gets_site_a_columns_only(api: Api, sites: dict[str, str]) -> None:
    """liveReadingBatches applies the same scope: a batch holding readings of both
    sites reaches a viewer of site A with A's columns only."""
    async with connect(api.base, VIEWER_A) as ws:
        bus = api.services.ingest.bus
        before = bus.subscribers
        await ws.subscribe(
            'subscription { liveReadingBatches(assetId: "%s") { sensorIds values } }' % SITE_A
        )
        await eventually(lambda: bus.subscribers > before, within=5, what="subscribed")
        now = datetime.now(UTC).replace(microsecond=0)
        await post(api, f"{B}-p0-ft", now, 7.0)
        await post(api, f"{A}-p0-ft", now, 5.0)
        got = await ws.next()
        assert got["liveReadingBatches"] == {"sensorIds": [f"{A}-p0-ft"], "values": [5.0]}
