"""Alerts end to end on the running app: readings POSTed to /ingest raise and clear
alerts in the graph, GraphQL lists and acknowledges them, a WebSocket subscriber sees
them as they happen."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from analytics.alerts import Rule, Severity
from api.services.alerting import AlertService
from graph.bolt.alerts import AlertRepository
from graph.timeutil import to_us
from ingest.store import ReadingBatch
from tests.support.app import Api
from tests.support.plant import Plant, register
from tests.support.polling import eventually
from tests.support.tokens import INGEST, OPERATOR, VIEWER
from tests.support.wsclient import connect

FIELDS = """id rule severity state active message value threshold sensorId assetId raisedAt
  clearedAt clearedValue acknowledgedAt acknowledgedBy acknowledgeNote"""
ALERTS = (
    """query($asset: ID, $active: Boolean, $first: Int!, $after: String, $desc: Boolean!) {
  alerts(assetId: $asset, active: $active, first: $first, after: $after,
         includeDescendants: $desc) {
    edges { cursor node { """
    + FIELDS
    + """ sensor { id } asset { id } } }
    pageInfo { hasNextPage endCursor }
  }
}"""
)
NESTED = """query($a: ID!, $s: ID!) {
  asset(id: $a) { alerts(active: true) { id rule } }
  sensor(id: $s) { alerts { id state } }
}"""
ACK = (
    """mutation($id: ID!, $note: String!) { acknowledgeAlert(id: $id, note: $note) { """
    + FIELDS
    + " } }"
)
SUBSCRIBE = """subscription($asset: ID) {
  alerts(assetId: $asset) { kind missed alert { id rule state sensorId severity } }
}"""


def watched_pump(u: str) -> Plant:
    return Plant.of(
        {
            "assets": [
                {"id": f"{u}-line", "name": "Line", "type": "line", "level": "LINE"},
                {
                    "id": f"{u}-pump",
                    "name": "Pump",
                    "type": "pump",
                    "level": "EQUIPMENT",
                    "parentId": f"{u}-line",
                },
            ],
            "sensors": [
                {
                    "id": f"{u}-temp",
                    "assetId": f"{u}-pump",
                    "name": "Bearing temperature",
                    "kind": "temperature",
                    "unit": "°C",
                    "minValue": -20,
                    "maxValue": 120,
                    "warnHigh": 106,
                }
            ],
        },
    )


async def post(api: Api, sensor: str, start: datetime, *values: float) -> None:
    items = [
        {"sensor_id": sensor, "value": v, "timestamp": (start + timedelta(seconds=i)).isoformat()}
        for i, v in enumerate(values)
    ]
    r = await api.client.post(
        "/ingest",
        content=json.dumps(items),
        headers={"Authorization": f"Bearer {INGEST}", "Content-Type": "application/json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["accepted"] == len(values)


async def alerts(api: Api, asset: str | None, **kw: Any) -> list[dict[str, Any]]:
    variables = {"asset": asset, "active": None, "first": 50, "after": None, "desc": True, **kw}
    data = await api.ok(ALERTS, variables, token=VIEWER)
    return [e["node"] for e in data["alerts"]["edges"]]


async def test_out_of_range_readings_raise_alerts_that_clear_and_can_be_acknowledged(
    api: Api, uid: str
) -> None:
    await register(api, watched_pump(uid))
    sensor, pump, line = f"{uid}-temp", f"{uid}-pump", f"{uid}-line"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    async with connect(api.base, VIEWER) as ws:
        hub = api.services.alerts.changes
        before = hub.subscribers
        await ws.subscribe(SUBSCRIBE, {"asset": line})
        await eventually(lambda: hub.subscribers > before, within=5)

        # 80 °C is fine; 135..140 °C is beyond the maximum 120 (and the warning level 106)
        await post(api, sensor, start, 80.0, 135.0, 138.0, 140.0)
        raised = await eventually(
            lambda: alerts(api, line, active=True), done=lambda xs: len(xs) == 2, every=0.05
        )
        by_rule = {a["rule"]: a for a in raised}
        limit, warning = by_rule["limit"], by_rule["warning"]
        assert (limit["state"], limit["active"], limit["severity"]) == ("ACTIVE", True, "CRITICAL")
        assert (limit["value"], limit["threshold"]) == (140.0, 120.0)  # 3rd reading beyond
        assert limit["sensor"]["id"] == sensor and limit["asset"]["id"] == pump
        assert limit["assetId"] == pump and limit["clearedAt"] is None
        assert "above its maximum 120 °C" in limit["message"]
        assert warning["severity"] == "WARNING"
        assert warning["threshold"] == pytest.approx(106.0)

        got = [await ws.next(), await ws.next()]
        assert sorted((m["alerts"]["kind"], m["alerts"]["alert"]["rule"]) for m in got) == [
            ("RAISED", "limit"),
            ("RAISED", "warning"),
        ]
        assert all(m["alerts"]["alert"]["sensorId"] == sensor for m in got)

        nested = await api.ok(NESTED, {"a": pump, "s": sensor}, token=VIEWER)
        assert {a["rule"] for a in nested["asset"]["alerts"]} == {"limit", "warning"}
        assert {a["state"] for a in nested["sensor"]["alerts"]} == {"ACTIVE"}

        # acknowledge: operator only, once, audited who/when/note
        body = await api.gql(ACK, {"id": limit["id"], "note": "seen"}, token=VIEWER)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        acked = (await api.ok(ACK, {"id": limit["id"], "note": "on my way"}, token=OPERATOR))[
            "acknowledgeAlert"
        ]
        assert (acked["state"], acked["active"], acked["acknowledgedBy"]) == (
            "ACKNOWLEDGED",
            True,
            "olga",
        )
        assert acked["acknowledgeNote"] == "on my way" and acked["acknowledgedAt"]
        body = await api.gql(ACK, {"id": limit["id"], "note": "again"}, token=OPERATOR)
        assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
        body = await api.gql(ACK, {"id": f"{uid}-nope", "note": ""}, token=OPERATOR)
        assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
        msg = await ws.next()
        assert (msg["alerts"]["kind"], msg["alerts"]["alert"]["state"]) == (
            "ACKNOWLEDGED",
            "ACKNOWLEDGED",
        )

        # back in range (below 120 - 2.8 and 106 - 2.8) for three readings: both clear
        await post(api, sensor, start + timedelta(seconds=10), 90.0, 85.0, 80.0)
        cleared = await eventually(
            lambda: alerts(api, line, active=False), done=lambda xs: len(xs) == 2, every=0.05
        )
        got = [await ws.next(), await ws.next()]
        assert sorted(m["alerts"]["kind"] for m in got) == ["CLEARED", "CLEARED"]
    by_rule = {a["rule"]: a for a in cleared}
    assert by_rule["limit"]["state"] == "CLEARED" and by_rule["limit"]["active"] is False
    assert by_rule["limit"]["acknowledgedBy"] == "olga"  # the audit stays
    assert by_rule["limit"]["clearedValue"] == 80.0
    assert await alerts(api, line, active=True) == []
    assert await alerts(api, pump, desc=False, active=False) != []
    assert await alerts(api, line, desc=False) == []  # raised on the pump, not the line


async def test_alerts_are_paginated_newest_first(api: Api, uid: str) -> None:
    await register(api, watched_pump(uid))
    sensor, pump = f"{uid}-temp", f"{uid}-pump"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    # raise and clear three times: six alerts (limit + warning each time)
    for k in range(3):
        at = start + timedelta(seconds=20 * k)
        await post(api, sensor, at, 130.0, 131.0, 132.0, 20.0, 20.0, 20.0)
    found = await eventually(
        lambda: alerts(api, pump, active=False), done=lambda xs: len(xs) == 6, every=0.05
    )
    seen: list[str] = []
    after = None
    while True:
        data = await api.ok(
            ALERTS,
            {"asset": pump, "active": None, "first": 4, "after": after, "desc": True},
            token=VIEWER,
        )
        page = data["alerts"]
        seen.extend(e["node"]["id"] for e in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [a["id"] for a in found] and len(set(seen)) == 6
    times = [a["raisedAt"] for a in found]
    assert times == sorted(times, reverse=True)
    capped = await api.ok(
        """query($a: ID!, $s: ID!) { asset(id: $a) { alerts(first: 2) { id } }
           sensor(id: $s) { alerts(first: 3, active: false) { id } } }""",
        {"a": pump, "s": sensor},
        token=VIEWER,
    )
    assert [a["id"] for a in capped["asset"]["alerts"]] == seen[:2]
    assert [a["id"] for a in capped["sensor"]["alerts"]] == seen[:3]
    body = await api.gql(ALERTS, {"asset": pump, "first": 1, "after": "bogus", "desc": True})
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"


async def test_a_restarted_service_clears_alerts_it_did_not_raise(api: Api, uid: str) -> None:
    """Active alerts in the graph seed a new service's rules (no double raise, clears)."""
    await register(api, watched_pump(uid))
    sensor = f"{uid}-temp"
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    await post(api, sensor, start, 150.0, 150.0, 150.0)
    await eventually(
        lambda: alerts(api, f"{uid}-pump", active=True), done=lambda x: len(x) == 2, every=0.05
    )
    fresh = AlertService(api.services.repo.alerts, api.services.ingest.bus, api.services.catalog)
    await fresh.seed()
    states = {r: fresh.evaluator.store.get(sensor, r) for r in (Rule.LIMIT, Rule.WARNING)}
    assert all(s.active for s in states.values())
    assert states[Rule.LIMIT].severity is Severity.CRITICAL

    def batch(offset: int, *values: float) -> ReadingBatch:
        ts = [to_us(start + timedelta(seconds=offset + i)) for i in range(len(values))]
        return ReadingBatch.from_columns(
            ts, [sensor] * len(values), [f"{uid}-pump"] * len(values), values, ["good"] * 3
        )

    assert await fresh.evaluate(batch(10, 151.0, 152.0, 153.0)) == []  # still active: no new alert
    cleared = await fresh.evaluate(batch(20, 10.0, 10.0, 10.0))
    assert sorted((a.rule, a.state.value) for a in cleared) == [
        ("limit", "cleared"),
        ("warning", "cleared"),
    ]
    stored = await AlertRepository(api.services.repo.client).of_sensors([sensor], active=True)
    assert stored[sensor] == []


async def test_the_service_follows_the_bus_and_stops_cleanly(api: Api, uid: str) -> None:
    bus = api.services.ingest.bus
    before = bus.subscribers
    extra = AlertService(
        api.services.repo.alerts, api.services.ingest.bus, api.services.catalog, drain_s=5.0
    )
    await extra.start()
    assert bus.subscribers == before + 1
    hub = extra.changes.subscribe()
    await register(api, watched_pump(uid))
    await post(api, f"{uid}-temp", datetime.now(UTC) - timedelta(minutes=1), 150.0, 151.0, 152.0)
    await extra.aclose()  # drains what was queued, then stops
    assert bus.subscribers == before
    assert extra.stats.raised == 2 and extra.stats.readings >= 3
    got = [m async for m in hub]  # the fan-out closed with the service
    assert sorted(m.alert.rule for m in got) == ["limit", "warning"]  # type: ignore[union-attr]
