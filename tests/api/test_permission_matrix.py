"""Every root field, built from the schema, refuses anonymous, wrong-role and
out-of-scope callers (issue 10: "a test enumerates every mutation, query and
subscription").

Each operation is generated from the schema itself: required arguments get placeholder
values of their type (ids name nothing in the graph, so a scoped token is outside),
composite results select ``__typename``. A field added later is covered by itself.
What a scoped token reads (every query and subscription against two sites) is enumerated
from the schema the same way in ``tests/api/test_scoped_reads.py``.
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import websockets
from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    Undefined,
    get_named_type,
    is_composite_type,
)
from strawberry.types.base import StrawberryObjectDefinition

from api.permissions import READ, required_role
from api.schema import build_schema
from graph.model import WorkOrder, WorkOrderStatus
from tests.api.test_alerts_api import alerts, post, watched_pump
from tests.support.app import Api
from tests.support.plant import pump_line, register
from tests.support.polling import eventually
from tests.support.tokens import INGEST, OPERATOR, SCOPED_ENGINEER

SCHEMA = build_schema()
GQL = SCHEMA._schema
PLACEHOLDER = {
    "ID": '"perm-matrix-none"',
    "String": '"perm-matrix-none"',
    "Int": "1",
    "Float": "1.0",
    "Boolean": "false",
    "DateTime": '"2026-01-01T00:00:00Z"',
    "JSON": "{}",
}


def literal(t: GraphQLInputType) -> str:
    if isinstance(t, GraphQLNonNull):
        return literal(t.of_type)
    if isinstance(t, GraphQLList):
        return f"[{literal(t.of_type)}]"
    if isinstance(t, GraphQLEnumType):
        return next(iter(t.values))
    if isinstance(t, GraphQLInputObjectType):
        inner = ", ".join(
            f"{name}: {literal(f.type)}"
            for name, f in t.fields.items()
            if isinstance(f.type, GraphQLNonNull) and f.default_value is Undefined
        )
        return "{" + inner + "}"
    assert isinstance(t, GraphQLScalarType)
    return PLACEHOLDER.get(t.name, '"x"')


def operation(kind: str, name: str, field: GraphQLField, given: str | None = None) -> str:
    args = (
        given
        if given is not None
        else ", ".join(
            f"{a}: {literal(arg.type)}"
            for a, arg in field.args.items()
            if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
        )
    )
    call = f"{name}({args})" if args else name
    selection = " { __typename }" if is_composite_type(get_named_type(field.type)) else ""
    return f"{kind} {{ {call}{selection} }}"


def roles_of(root: str) -> dict[str, str | None]:
    definition = SCHEMA.get_type_by_name(root)
    assert isinstance(definition, StrawberryObjectDefinition), root
    name = SCHEMA.config.name_converter.get_graphql_name
    return {name(f): required_role(f.extensions) for f in definition.fields}


def root_fields(root: str) -> list[tuple[str, str, str | None]]:
    kind = root.lower()
    gql_root = {"Query": GQL.query_type, "Mutation": GQL.mutation_type}.get(
        root
    ) or GQL.subscription_type
    assert gql_root is not None
    roles = roles_of(root)
    return [(name, operation(kind, name, f), roles[name]) for name, f in gql_root.fields.items()]


QUERIES = root_fields("Query")
MUTATIONS = root_fields("Mutation")
SUBSCRIPTIONS = root_fields("Subscription")
# A token of the highest role that does not imply the one needed.
BELOW = {"viewer": None, "ingest": OPERATOR, "operator": INGEST, "engineer": OPERATOR,
         "admin": SCOPED_ENGINEER}  # fmt: skip


def codes(body: dict[str, Any]) -> set[str]:
    return {e.get("extensions", {}).get("code") for e in body.get("errors") or ()}


def test_every_root_field_is_enumerated() -> None:
    assert len(QUERIES) >= 20 and len(MUTATIONS) >= 15 and len(SUBSCRIPTIONS) >= 3
    roles = {name: role for name, _, role in [*QUERIES, *MUTATIONS]}
    assert roles["oee"] == READ
    energy = ("optimizeEnergy", "applyEnergySchedule", "cancelEnergySchedule")
    assert {roles[name] for name in energy} == {"operator"}
    # The placeholders are valid GraphQL for the schema (else the checks prove nothing).
    from graphql import parse, validate

    for _, doc, _ in [*QUERIES, *MUTATIONS, *SUBSCRIPTIONS]:
        assert validate(GQL, parse(doc)) == [], doc


@pytest.mark.parametrize(("name", "doc", "role"), [*QUERIES, *MUTATIONS], ids=lambda x: str(x)[:40])
async def test_anonymous_callers_are_refused(
    api: Api, name: str, doc: str, role: str | None
) -> None:
    body = await api.gql(doc, token=None)
    assert body.get("data") is None or body["data"].get(name) is None
    assert codes(body) == {"UNAUTHENTICATED"}, (doc, body)


@pytest.mark.parametrize(
    ("name", "doc", "role"),
    [f for f in [*QUERIES, *MUTATIONS] if BELOW.get(f[2] or READ)],
    ids=lambda x: str(x)[:40],
)
async def test_callers_without_the_role_are_refused(
    api: Api, name: str, doc: str, role: str
) -> None:
    body = await api.gql(doc, token=BELOW[role])
    assert codes(body) == {"FORBIDDEN"}, (doc, body)
    assert f"needs role {role}" in body["errors"][0]["message"]


# Mutations whose placeholder ids would only be NOT_FOUND (or a no-op) name real things
# outside the scoped engineer's subtree ("elsewhere"): the plant made by ``outside``.
U = f"pmx{secrets.token_hex(3)}"
AT = '"2026-01-01T00:00:00Z"'
REAL_ARGS = {
    "deleteSensor": f'id: "{U}-p0-pt"',
    "deleteActuator": f'id: "{U}-p0-sp"',
    "connectAssets": f'relations: [{{sourceId: "{U}-tank", targetId: "{U}-p0", type: FEEDS}}]',
    "disconnectAssets": f'relation: {{sourceId: "{U}-tank", targetId: "{U}-p0", type: FEEDS}}',
    "recordMaintenance": f'events: [{{id: "{U}-m", assetId: "{U}-p0", kind: "repair", at: {AT}}}]',
    "ingestReadings": f'readings: [{{sensorId: "{U}-p0-pt", value: 1.0}}]',
    "writeSetpoint": f'actuatorId: "{U}-p0-sp", value: 1.0',
    "cancelSimulation": "id: $run",
    "acknowledgeAlert": "id: $alert",
    "updateWorkOrder": f'id: "{U}-wo", status: IN_PROGRESS',
    "applyEnergySchedule": f'start: {AT}, stepMinutes: 15.0, zones: [{{zoneId: "{U}-p0", '
    "setpointsC: [21.0]}]",
    "cancelEnergySchedule": f'zoneIds: ["{U}-p0"]',
    "cancelJob": "id: $job",
}


@pytest.fixture(scope="module")
async def outside(api: Api) -> dict[str, str]:
    """A plant outside the scoped engineer's subtree, with a run, a job and an active alert."""
    await register(api, pump_line(U, pumps=1))
    await register(api, watched_pump(f"{U}a"))
    await api.services.repo.work_orders.open_for_asset(
        WorkOrder(f"{U}-wo", f"{U}-p0", WorkOrderStatus.OPEN, 2, datetime.now(UTC))
    )
    run = await api.ok(
        'mutation { runSimulation(assetId: "%s-p0", scenario: {model: "pump", '
        "horizonSeconds: 3600}) { id } }" % U
    )
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    await post(api, f"{U}a-temp", start, 80.0, 135.0, 138.0, 140.0)
    raised = await eventually(lambda: alerts(api, f"{U}a-line", active=True), done=bool)
    job = await api.ok(
        'mutation { trainAnomalyModel(assetId: "%s-p0", from: %s, to: "2026-01-02T00:00:00Z") '
        "{ id } }" % (U, AT)
    )
    return {
        "run": run["runSimulation"]["id"],
        "alert": raised[0]["id"],
        "job": job["trainAnomalyModel"]["id"],
    }


def scoped_operation(name: str, field: GraphQLField) -> str:
    doc = operation("mutation", name, field, REAL_ARGS.get(name))
    for var in ("run", "alert", "job"):
        if f"${var}" in doc:
            doc = doc.replace("mutation {", f"mutation(${var}: ID!) {{", 1)
    return doc


@pytest.mark.parametrize("name", [n for n, _, _ in MUTATIONS])
async def test_out_of_scope_mutations_are_refused(
    api: Api, outside: dict[str, str], name: str
) -> None:
    assert GQL.mutation_type is not None
    doc = scoped_operation(name, GQL.mutation_type.fields[name])
    variables = {k: v for k, v in outside.items() if f"${k}" in doc}
    body = await api.gql(doc, variables, token=SCOPED_ENGINEER)
    if name == "ingestReadings":  # refused reading by reading
        result = body["data"]["ingestReadings"]
        assert (result["__typename"], codes(body)) == ("IngestResult", set())
        check = await api.gql(
            "mutation { ingestReadings(%s) { accepted errors { code } } }" % REAL_ARGS[name],
            token=SCOPED_ENGINEER,
        )
        assert check["data"]["ingestReadings"] == {"accepted": 0, "errors": [{"code": "FORBIDDEN"}]}
        return
    assert codes(body) == {"FORBIDDEN"}, (doc, body)


@pytest.mark.parametrize(("name", "doc", "role"), SUBSCRIPTIONS, ids=lambda x: str(x)[:40])
async def test_anonymous_subscribers_are_refused(api: Api, name: str, doc: str, role: str) -> None:
    assert role in {"viewer", "operator", "engineer", "admin", "ingest"}
    url = api.base.replace("http", "ws") + "/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": doc}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                message = json.loads(await ws.recv())
                assert message["type"] not in {"next", "connection_ack"}, message
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    assert closed.value.rcvd.reason.startswith("UNAUTHENTICATED")
