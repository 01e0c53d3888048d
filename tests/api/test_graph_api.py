"""The GraphQL API over real HTTP: registry, walks, guards, errors, auth, limits, DataLoaders."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import strawberry
from graphql import DocumentNode, parse, print_ast, specified_rules, validate
from strawberry.extensions import AddValidationRules

from api.assets.types import DEFAULT_WALK_LIMIT
from api.common.types import encode_cursor
from api.errors import CodedErrors
from api.limits import LIST_FIELDS
from api.schema import build_schema
from graph.bolt.client import GraphClient
from tests.support.app import Api
from tests.support.plant import pump_line, register
from tests.support.tokens import OPERATOR, VIEWER


async def test_line_with_equipment_sensors_and_impact(api: Api, uid: str) -> None:
    await register(api, pump_line(uid))
    data = await api.ok(
        """query($id: ID!) { asset(id: $id) { name level
             children { nodes { id metadata sensors { id unit maxValue } actuators { id maxValue }
                                parent { id } } }
             subtree(depth: 2) { depth asset { id } } }
           impact(assetId: "%s-tank") { distance via path asset { id type } } }"""
        % uid,
        {"id": f"{uid}-line"},
    )
    line = data["asset"]
    assert line["name"] == "Line" and line["level"] == "LINE"
    kids = {k["id"]: k for k in line["children"]["nodes"]}
    assert set(kids) == {f"{uid}-tank", f"{uid}-p0", f"{uid}-p1", f"{uid}-p2"}
    assert [s["id"] for s in kids[f"{uid}-p0"]["sensors"]] == [f"{uid}-p0-ft", f"{uid}-p0-pt"]
    assert kids[f"{uid}-p0"]["metadata"] == {"rated_kw": 30}
    assert kids[f"{uid}-p0"]["actuators"][0]["maxValue"] == 3000
    assert {(e["asset"]["id"], e["distance"]) for e in data["impact"]} == {
        (f"{uid}-p{i}", 1) for i in range(3)
    }


async def test_tree_query_costs_bounded_round_trips(api: Api, uid: str, cypher_log) -> None:  # noqa: ANN001
    """Sensors of N assets load in one statement per tree level, whatever N is."""
    await register(api, pump_line(uid, pumps=12))
    before = _count_sent(api)
    await api.ok(
        'query { asset(id: "%s-site") { children { nodes { children(first: 20) { nodes { id '
        'sensors { id } actuators { id } maintenance(first: 2, kind: "repair") { nodes { id } } '
        "} } } } } }" % uid
    )
    sent = _count_sent(api) - before
    # asset, children (level 1), children (level 2) with their sensors, actuators,
    # maintenance: 5.
    assert sent == 5, sent


SENSOR_FIELDS = "id name kind unit minValue maxValue samplingRateSeconds warnLow warnHigh"


async def test_children_bring_their_sensors_in_the_same_statement(api: Api, uid: str) -> None:
    """A page of children asked with their sensors is one statement, however the query
    reaches the sensors (nodes, edges, fragments), and the sensors are those each child
    answers on its own; children without sensors, or a page cut by first, keep theirs."""
    await register(api, pump_line(uid, pumps=4))
    single: dict[str, list[dict[str, object]]] = {}
    for child in ("tank", "p0", "p1", "p2", "p3"):
        got = await api.ok(
            'query { asset(id: "%s-%s") { sensors { %s } } }' % (uid, child, SENSOR_FIELDS)
        )
        single[f"{uid}-{child}"] = got["asset"]["sensors"]
    assert single[f"{uid}-p0"] and not single[f"{uid}-tank"]
    shapes = {
        "nodes": "children { nodes { id sensors { %s } } }",
        "edges": "children { edges { node { id sensors { %s } } } }",
        "inline fragment": "children { nodes { id ... on Asset { sensors { %s } } } }",
        "named fragment": "children { nodes { id ...S } } } } fragment S on Asset { sensors { %s",
    }
    for shape, selection in shapes.items():
        before = _count_sent(api)
        data = await api.ok(
            'query { asset(id: "%s-line") { %s } }' % (uid, selection % SENSOR_FIELDS)
        )
        assert _count_sent(api) - before == 2, shape  # the asset, its children with sensors
        page = data["asset"]["children"]
        kids = page["nodes"] if "nodes" in page else [e["node"] for e in page["edges"]]
        assert {k["id"]: k["sensors"] for k in kids} == single, shape
    data = await api.ok(
        'query { asset(id: "%s-line") { children(first: 2, after: "%s") { nodes { id '
        "sensors { %s } } } } }" % (uid, encode_cursor(f"{uid}-p0"), SENSOR_FIELDS)
    )
    assert {k["id"]: k["sensors"] for k in data["asset"]["children"]["nodes"]} == {
        f"{uid}-{c}": single[f"{uid}-{c}"] for c in ("p1", "p2")
    }


async def test_subtree_brings_its_sensors_in_the_same_statement(api: Api, uid: str) -> None:
    """A subtree asked with its assets' sensors is one statement, and the sensors are
    those each asset answers on its own (assets without sensors: empty lists)."""
    await register(api, pump_line(uid, pumps=3))
    before = _count_sent(api)
    data = await api.ok(
        'query { asset(id: "%s-site") { subtree(depth: 3, limit: 4) { depth asset { id '
        "sensors { %s } } } } }" % (uid, SENSOR_FIELDS)
    )
    assert _count_sent(api) - before == 2  # the asset, its subtree with sensors
    tree = data["asset"]["subtree"]
    assert [e["asset"]["id"] for e in tree] == [
        f"{uid}-line", f"{uid}-p0", f"{uid}-p1", f"{uid}-p2",
    ]  # fmt: skip
    for e in tree:
        alone = await api.ok(
            'query { asset(id: "%s") { sensors { %s } } }' % (e["asset"]["id"], SENSOR_FIELDS)
        )
        assert e["asset"]["sensors"] == alone["asset"]["sensors"]
    assert tree[1]["asset"]["sensors"] and not tree[0]["asset"]["sensors"]


async def test_impact_brings_its_assets_in_the_walk_statement(api: Api, uid: str) -> None:
    """The reached assets' fields come with the walk (one statement) and are those each
    asset answers on its own."""
    await register(api, pump_line(uid))
    fields = "id name type level description lat lon metadata createdAt updatedAt"
    for root in ("impact", "rootCauses"):
        start = f"{uid}-tank" if root == "impact" else f"{uid}-p1"
        before = _count_sent(api)
        data = await api.ok(
            'query { %s(assetId: "%s") { distance asset { %s } } }' % (root, start, fields)
        )
        assert _count_sent(api) - before == 1, root
        assert data[root], root
        for r in data[root]:
            alone = await api.ok('query { asset(id: "%s") { %s } }' % (r["asset"]["id"], fields))
            assert r["asset"] == alone["asset"]


def _count_sent(api: Api) -> int:
    return api.services.repo.client.sent_count


async def test_errors_carry_codes(api: Api, uid: str) -> None:
    await register(api, pump_line(uid))
    body = await api.gql('mutation { deleteAsset(id: "%s-line") { deletedIds } }' % uid)
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert "child assets" in body["errors"][0]["message"]
    body = await api.gql(
        'mutation { upsertAssets(assets: [{id: "%s-x", name: "X", type: "pump", level: EQUIPMENT, '
        'parentId: "nope"}]) { id } }' % uid
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    body = await api.gql(
        'mutation { upsertSensors(sensors: [{id: "%s-s", assetId: "%s-tank", name: "L", '
        'kind: "level", unit: "m", minValue: 5, maxValue: 1}]) { id } }' % (uid, uid)
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    body = await api.gql("query { nosuchfield }")
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    body = await api.gql('query { asset(id: "%s-site") { subtree(depth: 99) { depth } } }' % uid)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_cascade_delete(api: Api, uid: str) -> None:
    await register(api, pump_line(uid))
    data = await api.ok(
        'mutation { deleteAsset(id: "%s-line", cascade: true) { deletedIds } }' % uid
    )
    assert set(data["deleteAsset"]["deletedIds"]) >= {f"{uid}-line", f"{uid}-p0", f"{uid}-tank"}
    data = await api.ok('query { sensor(id: "%s-p0-pt") { id } }' % uid)
    assert data["sensor"] is None


async def test_auth_and_roles(api: Api, uid: str) -> None:
    q = 'mutation { upsertAssets(assets: [{id: "%s-a", name: "A", type: "x", level: SITE}]) { id } }'
    body = await api.gql(q % uid, token=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    body = await api.gql(q % uid, token=VIEWER)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.gql(q % uid, token=OPERATOR)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.gql(q % uid, token="wrong-token-xxxxxxxxxxxxxxx")
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    # This deployment does not allow anonymous reads.
    body = await api.gql('query { asset(id: "x") { id } }', token=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.ok('query { asset(id: "x") { id } }', token=VIEWER))["asset"] is None


async def test_depth_and_cost_limits(api: Api) -> None:
    deep = 'query { asset(id: "x") { ' + "parent { " * 14 + "id" + " }" * 14 + " } }"
    body = await api.gql(deep)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    costly = "query { assets(first: 500) { nodes { children(first: 500) { nodes { sensors { id } } } } } }"
    body = await api.gql(costly)
    assert "exceeds the limit" in body["errors"][0]["message"]


async def test_pagination_search_paths_neighbourhood(api: Api, uid: str) -> None:
    await register(api, pump_line(uid, pumps=5))
    first = await api.ok(
        'query { assets(first: 3, search: "%s") { edges { cursor node { id } } '
        "pageInfo { hasNextPage endCursor } } }" % uid
    )
    page = first["assets"]
    assert len(page["edges"]) == 3 and page["pageInfo"]["hasNextPage"]
    rest = await api.ok(
        'query($after: String) { assets(first: 50, search: "%s", after: $after) '
        "{ nodes { id } pageInfo { hasNextPage } } }" % uid,
        {"after": page["pageInfo"]["endCursor"]},
    )
    ids = [e["node"]["id"] for e in page["edges"]] + [n["id"] for n in rest["assets"]["nodes"]]
    assert len(ids) == 8 and ids == sorted(ids)
    data = await api.ok(
        'query { path(fromId: "%s-p0", toId: "%s-p3", processOnly: true) { assetIds length } '
        'neighbourhood(assetId: "%s-tank") { nodes { id distance } edges { source target type } } }'
        % (uid, uid, uid)
    )
    assert data["path"] == {"assetIds": [f"{uid}-p0", f"{uid}-tank", f"{uid}-p3"], "length": 2}
    assert len(data["neighbourhood"]["nodes"]) == 7  # tank, line, 5 pumps


async def test_maintenance_and_data_sources(api: Api, uid: str) -> None:
    await register(api, pump_line(uid))
    await api.ok(
        """mutation($e: [MaintenanceEventInput!]) { recordMaintenance(events: $e) { events { id } } }""",
        {
            "e": [
                {
                    "id": f"{uid}-m1",
                    "assetId": f"{uid}-p0",
                    "kind": "inspection",
                    "at": "2025-01-01T08:00:00Z",
                    "technician": "ann",
                },
                {
                    "id": f"{uid}-m2",
                    "assetId": f"{uid}-p1",
                    "kind": "repair",
                    "at": "2025-02-01T08:00:00Z",
                    "cost": 1200.5,
                    "downtimeMinutes": 90,
                },
            ]
        },
        token=OPERATOR,
    )
    data = await api.ok(
        'query { maintenanceHistory(assetId: "%s-line") { nodes { id cost asset { id } } } '
        'asset(id: "%s-p1") { maintenance(kind: "repair") { nodes { id downtimeMinutes } } } }'
        % (uid, uid)
    )
    assert [n["id"] for n in data["maintenanceHistory"]["nodes"]] == [f"{uid}-m2", f"{uid}-m1"]
    assert data["asset"]["maintenance"]["nodes"] == [{"id": f"{uid}-m2", "downtimeMinutes": 90.0}]
    src = await api.ok(
        """mutation($s: DataSourceInput!) { upsertDataSource(source: $s) {
             id protocol sensorBindings { sensorId assetId address scale } } }""",
        {
            "s": {
                "id": f"{uid}-mb",
                "protocol": "MODBUS",
                "endpoint": "modbus://127.0.0.1:5020",
                "settings": {"password": "secret", "unit": 1},
                "sensorBindings": [{"sensorId": f"{uid}-p0-pt", "address": "hr:1", "scale": 0.1}],
            }
        },
    )
    b = src["upsertDataSource"]["sensorBindings"][0]
    assert (b["assetId"], b["address"], b["scale"]) == (f"{uid}-p0", "hr:1", 0.1)
    data = await api.ok("query { dataSources { id settings } }")
    mine = next(d for d in data["dataSources"] if d["id"] == f"{uid}-mb")
    assert mine["settings"] == {"unit": 1}  # secrets are never served back


async def test_health_and_readiness(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    r = await api.client.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"]["graph"] == "ok"
    r = await api.client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "graphiql" in r.text.lower()


async def test_internal_errors_are_logged_in_full_and_masked(
    graph_client: GraphClient, caplog: pytest.LogCaptureFixture
) -> None:
    """A statement the graph server refuses (a real ArcadeDB error) reaches the client
    as INTERNAL with a masked message and a reference; the log has the details."""

    @strawberry.type
    class Query:
        @strawberry.field
        async def broken(self) -> int:
            rows = await graph_client.read("RETURN 1 / 0 AS x")
            return int(rows[0]["x"])

    schema = strawberry.Schema(query=Query, extensions=[CodedErrors])
    with caplog.at_level(logging.ERROR, logger="twinql.api"):
        result = await schema.execute("{ broken }")
    assert result.errors is not None
    error = result.errors[0].formatted
    assert error["message"] == "Unexpected error."
    assert error["extensions"]["code"] == "INTERNAL"
    ref = error["extensions"]["ref"]
    assert "zero" not in str(error)
    logged = [r for r in caplog.records if ref in r.getMessage()]
    assert logged and "by zero" in logged[0].getMessage()
    assert logged[0].exc_info is not None


async def test_data_source_secrets_are_never_served_back(api: Api, uid: str) -> None:
    settings = {
        "security": "Basic256Sha256,SignAndEncrypt,client.der,client.pem::hunter2,server.der",
        "username": "plc",
        "password": "pw-1",
        "apiKey": "k-2",
        "client_secret": "s-3",
        "authToken": "t-4",
        "privateKey": "p-5",
        "tls": {"keyPassword": "kp-6", "ca": "ca.pem"},
        "publishing_interval_ms": 200,
    }
    src = {"id": f"{uid}-ua", "protocol": "OPCUA", "endpoint": "opc.tcp://127.0.0.1:1",
           "settings": settings}  # fmt: skip
    try:
        upserted = await api.ok(
            "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { settings } }",
            {"s": src},
        )
        listed = await api.ok("query { dataSources { id settings } }")
        served = next(d for d in listed["dataSources"] if d["id"] == f"{uid}-ua")["settings"]
        assert upserted["upsertDataSource"]["settings"] == served
        assert served == {
            "security": "Basic256Sha256,SignAndEncrypt,client.der,client.pem,server.der",
            "username": "plc",
            "tls": {"ca": "ca.pem"},
            "publishing_interval_ms": 200,
        }
        for secret in ("hunter2", "pw-1", "k-2", "s-3", "t-4", "p-5", "kp-6"):
            assert secret not in str(listed)
        # The graph keeps them: the connector needs them.
        (cfg,) = await api.services.repo.sources.configs([f"{uid}-ua"])
        assert cfg.source.settings == settings
    finally:
        await api.ok('mutation { deleteDataSource(id: "%s-ua") { deletedIds } }' % uid)


async def test_history_blocks_delete_until_cascade(api: Api, uid: str) -> None:
    await register(api, pump_line(uid))
    await api.ok(
        "mutation($w: [WorkOrderInput!]) { recordMaintenance(workOrders: $w) { workOrders { id } } }",
        {
            "w": [
                {
                    "id": f"{uid}-wo",
                    "assetId": f"{uid}-tank",
                    "status": "OPEN",
                    "priority": 2,
                    "createdAt": "2025-01-01T08:00:00Z",
                    "reason": "leak",
                }
            ]
        },  # fmt: skip
        token=OPERATOR,
    )
    body = await api.gql('mutation { deleteAsset(id: "%s-tank") { deletedIds } }' % uid)
    err = body["errors"][0]
    assert err["extensions"]["code"] == "CONFLICT"
    assert err["extensions"]["workOrders"] == 1
    assert "1 work orders" in err["message"]
    data = await api.ok(
        'mutation { deleteAsset(id: "%s-tank", cascade: true) { deletedIds } }' % uid
    )
    assert data["deleteAsset"]["deletedIds"] == [f"{uid}-tank"]
    left = await api.services.repo.client.read(
        "MATCH (w:WorkOrder {id: $id}) RETURN w.id AS id", id=f"{uid}-wo"
    )
    assert left == []
    # A sensor bound to a data source needs cascade too.
    await api.ok(
        "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id } }",
        {
            "s": {
                "id": f"{uid}-mb",
                "protocol": "HTTP",
                "endpoint": "http://127.0.0.1:1",
                "sensorBindings": [{"sensorId": f"{uid}-p0-pt", "address": "p0"}],
            }
        },  # fmt: skip
    )
    body = await api.gql('mutation { deleteSensor(id: "%s-p0-pt") { deletedIds } }' % uid)
    assert body["errors"][0]["extensions"] == {"code": "CONFLICT", "bindings": 1}
    data = await api.ok(
        'mutation { deleteSensor(id: "%s-p0-pt", cascade: true) { deletedIds } }' % uid
    )
    assert data["deleteSensor"]["deletedIds"] == [f"{uid}-p0-pt"]


async def test_children_and_maintenance_pages_over_http(api: Api, uid: str) -> None:
    await register(api, pump_line(uid, pumps=7))  # the line has the tank and 7 pumps
    q = (
        """query($after: String) { asset(id: "%s-line") {
             children(first: 3, after: $after) { nodes { id } pageInfo { hasNextPage endCursor } }
           } }"""
        % uid
    )
    ids, after = [], None
    while True:
        page = (await api.ok(q, {"after": after}))["asset"]["children"]
        ids += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert ids == sorted([f"{uid}-tank"] + [f"{uid}-p{i}" for i in range(7)])

    events = [
        {"id": f"{uid}-m{i}", "assetId": f"{uid}-p{i % 2}", "kind": "repair" if i % 2 else "check",
         "at": f"2025-03-{10 + i:02d}T08:00:00Z", "technician": "ann"}
        for i in range(6)
    ]  # fmt: skip
    await api.ok(
        "mutation($e: [MaintenanceEventInput!]) { recordMaintenance(events: $e) { events { id } } }",
        {"e": events},
        token=OPERATOR,
    )
    q = (
        """query($after: String, $kind: String) {
             maintenanceHistory(assetId: "%s-line", first: 2, after: $after, kind: $kind) {
               nodes { id } pageInfo { hasNextPage endCursor } } }"""
        % uid
    )
    ids, after = [], None
    while True:
        page = (await api.ok(q, {"after": after}))["maintenanceHistory"]
        ids += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert ids == [f"{uid}-m{i}" for i in reversed(range(6))]
    repairs = (await api.ok(q, {"kind": "repair"}))["maintenanceHistory"]
    assert [n["id"] for n in repairs["nodes"]] == [f"{uid}-m5", f"{uid}-m3"]
    more = await api.ok(q, {"kind": "repair", "after": repairs["pageInfo"]["endCursor"]})
    assert [n["id"] for n in more["maintenanceHistory"]["nodes"]] == [f"{uid}-m1"]
    data = await api.ok(
        'query { asset(id: "%s-p1") { maintenance(first: 1) { nodes { id } '
        "pageInfo { hasNextPage endCursor } } } }" % uid
    )
    page = data["asset"]["maintenance"]
    assert [n["id"] for n in page["nodes"]] == [f"{uid}-m5"] and page["pageInfo"]["hasNextPage"]
    body = await api.gql(
        'query { asset(id: "%s-p1") { maintenance(after: "bm90LWEtY3Vyc29y") { nodes { id } } } }'
        % uid
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


def _operations(text: str) -> list[str]:
    """Every operation of the ```graphql blocks of a Markdown text, one per document."""
    out = []
    for block in re.findall(r"```graphql\n(.*?)```", text, re.S):
        for definition in parse(block).definitions:
            out.append(print_ast(DocumentNode(definitions=(definition,))))
    return out


def _limit_errors(query: str) -> list[str]:
    """What the deployed schema's depth, alias and cost rules (default limits) say."""
    schema = build_schema()
    rules = []
    for ext in schema.extensions:
        made = ext() if not isinstance(ext, AddValidationRules) else ext
        if isinstance(made, AddValidationRules):
            rules += made.validation_rules
    errors = validate(schema._schema, parse(query), [*specified_rules, *rules])
    return [e.message for e in errors]


README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("query", _operations(README))
def test_readme_queries_pass_the_default_limits(query: str) -> None:
    assert _limit_errors(query) == []


def test_the_benchmark_queries_pass_the_default_limits() -> None:
    from bench.gen_plant import FANOUT
    from bench.graph_queries import IMPACT, SUBTREE, TREE
    from graph.model import AssetLevel

    for query in (TREE, SUBTREE, IMPACT):
        assert _limit_errors(query) == [], query
    # The tree asks for each level's whole fan-out, so it still returns every asset.
    firsts = [int(n) for n in re.findall(r"children\(first: (\d+)\)", TREE)]
    levels = (AssetLevel.SITE, AssetLevel.AREA, AssetLevel.LINE, AssetLevel.UNIT)
    assert firsts == [FANOUT[level] for level in levels]


def test_walks_cost_what_they_may_return() -> None:
    assert LIST_FIELDS["subtree"] == LIST_FIELDS["impact"] == LIST_FIELDS["rootCauses"]
    assert LIST_FIELDS["subtree"] == DEFAULT_WALK_LIMIT
    wide = '{ impact(assetId: "x", limit: 10000) { asset { sensors { id latest { value } } } } }'
    assert any("exceeds the limit" in m for m in _limit_errors(wide))
    # The same walk at its default size, or narrowed, is fine.
    assert _limit_errors(wide.replace(", limit: 10000", "")) == []
    old_tree = """{ asset(id: "s1") { children(first: 100) { nodes { children(first: 100) { nodes {
      children(first: 100) { nodes { sensors { id } children(first: 100) { nodes { id } } } }
      } } } } } }"""
    assert any("exceeds the limit" in m for m in _limit_errors(old_tree))


async def test_walks_and_subtrees_stop_at_their_limit(api: Api, uid: str) -> None:
    await register(api, pump_line(uid, pumps=6))
    data = await api.ok(
        'query { impact(assetId: "%s-tank", limit: 4) { asset { id } } '
        'asset(id: "%s-site") { subtree(depth: 2, limit: 3) { depth asset { id } } } }' % (uid, uid)
    )
    assert len(data["impact"]) == 4
    assert [(e["depth"], e["asset"]["id"]) for e in data["asset"]["subtree"]] == [
        (1, f"{uid}-line"), (2, f"{uid}-p0"), (2, f"{uid}-p1"),
    ]  # fmt: skip
    body = await api.gql('query { rootCauses(assetId: "%s-p0", limit: 0) { distance } }' % uid)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
