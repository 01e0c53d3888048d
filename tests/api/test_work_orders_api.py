"""Work orders and failure limits over GraphQL, on the served app: Sensor.failLow/failHigh
through upsertSensors, the maintenance kind vocabulary through recordMaintenance, the
workOrders query and updateWorkOrder with its roles, scopes and transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from graph.model import WorkOrder, WorkOrderStatus
from tests.support.app import Api
from tests.support.tokens import OPERATOR, SCOPED_ENGINEER, VIEWER

T0 = datetime(2026, 2, 1, tzinfo=UTC)

REGISTER = """
mutation($assets: [AssetInput!]!, $sensors: [SensorInput!]!) {
  upsertAssets(assets: $assets) { id }
  upsertSensors(sensors: $sensors) { id failLow failHigh }
}
"""
ORDERS = """query($asset: ID, $status: WorkOrderStatus, $first: Int!, $after: String) {
  workOrders(assetId: $asset, status: $status, first: $first, after: $after) {
    edges { cursor node { id status priority reason note updatedAt assessmentId asset { id } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
UPDATE = """mutation($id: ID!, $status: WorkOrderStatus!, $note: String!) {
  updateWorkOrder(id: $id, status: $status, note: $note) { id status note updatedAt }
}"""


def sensor(u: str, **kw: Any) -> dict[str, Any]:
    return {
        "id": f"{u}-vib",
        "assetId": f"{u}-pump",
        "name": "Vibration",
        "kind": "vibration",
        "unit": "mm/s",
        "minValue": 0,
        "maxValue": 20,
        "warnHigh": 5.5,
        **kw,
    }


async def upsert_pump(api: Api, u: str, **sensor_fields: Any) -> dict[str, Any]:
    assets = [{"id": f"{u}-pump", "name": "Pump", "type": "pump", "level": "EQUIPMENT"}]
    return await api.gql(REGISTER, {"assets": assets, "sensors": [sensor(u, **sensor_fields)]})


def code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    return str(body["errors"][0]["extensions"]["code"])


async def test_sensor_failure_limits(api: Api, uid: str) -> None:
    body = await upsert_pump(api, uid, failHigh=11)
    assert "errors" not in body, body
    assert body["data"]["upsertSensors"] == [{"id": f"{uid}-vib", "failLow": None, "failHigh": 11}]
    read = await api.ok(
        'query { sensor(id: "%s-vib") { warnHigh failLow failHigh } }' % uid, token=VIEWER
    )
    assert read["sensor"] == {"warnHigh": 5.5, "failLow": None, "failHigh": 11}

    below_warning = await upsert_pump(api, uid, failHigh=4)
    assert code(below_warning) == "VALIDATION"
    assert "below its warning level 5.5" in below_warning["errors"][0]["message"]
    outside = await upsert_pump(api, uid, failHigh=30)
    assert code(outside) == "VALIDATION" and "outside its range" in outside["errors"][0]["message"]
    unchanged = await api.ok('query { sensor(id: "%s-vib") { failHigh } }' % uid)
    assert unchanged["sensor"] == {"failHigh": 11}


async def test_maintenance_kinds_are_checked(api: Api, uid: str) -> None:
    assert "errors" not in await upsert_pump(api, uid)
    record = """mutation($kind: String!) { recordMaintenance(events: [{id: "%s-m1",
      assetId: "%s-pump", kind: $kind, at: "2026-01-05T08:00:00Z"}]) { events { id kind } } }"""
    bad = await api.gql(record % (uid, uid), {"kind": "overhaul"}, token=OPERATOR)
    assert code(bad) == "VALIDATION"
    message = bad["errors"][0]["message"]
    assert "failure, replacement, repair, inspection" in message and "preventive" in message
    good = await api.ok(record % (uid, uid), {"kind": "failure"}, token=OPERATOR)
    assert good["recordMaintenance"]["events"] == [{"id": f"{uid}-m1", "kind": "failure"}]


async def test_work_orders_list_and_move(api: Api, uid: str) -> None:
    assert "errors" not in await upsert_pump(api, uid)
    repo = api.services.repo
    pump = f"{uid}-pump"
    ids = []
    for n in range(3):
        wo = WorkOrder(f"{uid}-wo{n}", pump, WorkOrderStatus.OPEN, 2, T0 + timedelta(hours=n),
                       "RUL below 30 days")  # fmt: skip
        opened = await repo.work_orders.open_for_asset(wo)
        assert opened.opened
        ids.append(opened.order.id)
        if n < 2:
            await repo.work_orders.set_status(wo.id, WorkOrderStatus.CANCELLED, "superseded")

    # Newest first, paged by cursor; readable by a viewer.
    seen, after = [], None
    while True:
        data = await api.ok(ORDERS, {"asset": pump, "first": 2, "after": after}, token=VIEWER)
        page = data["workOrders"]
        seen += [e["node"]["id"] for e in page["edges"]]
        assert all(e["node"]["asset"] == {"id": pump} for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ids[::-1]
    active = await api.ok(ORDERS, {"asset": pump, "status": "OPEN", "first": 10})
    assert [e["node"]["id"] for e in active["workOrders"]["edges"]] == [ids[2]]
    unknown = await api.gql(ORDERS, {"asset": f"{uid}-nope", "first": 10})
    assert code(unknown) == "NOT_FOUND"

    move = {"id": ids[2], "status": "IN_PROGRESS", "note": "crew on site"}
    assert code(await api.gql(UPDATE, move, token=VIEWER)) == "FORBIDDEN"
    assert code(await api.gql(UPDATE, move, token=SCOPED_ENGINEER)) == "FORBIDDEN"
    assert code(await api.gql(UPDATE, move, token=None)) == "UNAUTHENTICATED"
    moved = (await api.ok(UPDATE, move, token=OPERATOR))["updateWorkOrder"]
    assert (moved["status"], moved["note"]) == ("IN_PROGRESS", "crew on site")
    assert moved["updatedAt"] is not None

    illegal = await api.gql(UPDATE, {**move, "status": "OPEN"}, token=OPERATOR)
    assert code(illegal) == "CONFLICT"
    assert "cannot go from in_progress to open" in illegal["errors"][0]["message"]
    done = await api.ok(UPDATE, {**move, "status": "DONE", "note": "bearing replaced"})
    assert done["updateWorkOrder"]["status"] == "DONE"
    closed = await api.gql(UPDATE, {**move, "status": "CANCELLED"})
    assert code(closed) == "CONFLICT" and "closed" in closed["errors"][0]["message"]
    missing = await api.gql(UPDATE, {**move, "id": f"{uid}-nope"})
    assert code(missing) == "NOT_FOUND"
    bad_cursor = await api.gql(ORDERS, {"asset": pump, "first": 2, "after": "bogus"})
    assert code(bad_cursor) == "VALIDATION"
