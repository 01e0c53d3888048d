"""Health, RUL, anomaly models and work orders over GraphQL, on the served app, from
readings pushed through POST /ingest with past timestamps (a month of history in bulk).

Known answers: a pump whose vibration rises linearly towards its failure limit reaches it
at ``LIFE`` days, so at 30 days its RUL is about 10 days (high priority, a work order
opens once); a constant pump is healthy with an unknown RUL and no anomaly; a pump
without failure limits says so. Asked as of 10 days ago, the twin sees only the data up
to then, and its RUL is longer by those 10 days.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from tests.support.app import Api
from tests.support.jobs import finished, progress
from tests.support.tokens import ADMIN, INGEST, OPERATOR, SCOPED_ENGINEER, VIEWER
from tests.support.wsclient import connect

DAY = 86_400.0
LIFE = 40.0  # days from the start of the data to the failure limit
SPAN = 30.0  # days of data up to now
STEP = 600  # seconds between readings

REGISTER = """
mutation($assets: [AssetInput!]!, $sensors: [SensorInput!]!) {
  upsertAssets(assets: $assets) { id }
  upsertSensors(sensors: $sensors) { id }
}
"""
HEALTH = """query($id: ID!, $asOf: DateTime) { asset(id: $id) { health(asOf: $asOf) {
  assetId assessmentId asOf healthIndex limitingSensor unknownReason priority recommendation
  sensors { sensorId index level normal unknownReason }
  rul { hours low high confidence method unknownReason }
  anomaly { score anomalous modelVersion unknownReason contributions { sensorId share } }
  fleetLives windowFrom windowTo workOrder { id status priority assessmentId }
} } }"""
ASSESS = """mutation($id: ID!) { assessHealth(assetId: $id) {
  assessmentId healthIndex priority rul { hours } workOrder { id status priority assessmentId }
} }"""
HISTORY = """query($id: ID!) { healthHistory(assetId: $id, first: 10) {
  edges { node { id asOf healthIndex rul { hours low high confidence unknownReason } } }
} }"""
TRAIN = """mutation($id: ID!, $from: DateTime!, $to: DateTime!) {
  trainAnomalyModel(assetId: $id, from: $from, to: $to) { id kind status assetId }
}"""
MODEL = "anomalyModel { id version trainedFrom trainedTo metrics }"


def now_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)


def pump(u: str, name: str, limits: bool = True) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    asset = {"id": f"{u}-{name}", "name": name, "type": f"{u}-pump", "level": "EQUIPMENT"}
    vib = {"id": f"{u}-{name}-vib", "assetId": asset["id"], "name": "Vibration",
           "kind": "vibration", "unit": "mm/s", "minValue": 0, "maxValue": 20}  # fmt: skip
    temp = {"id": f"{u}-{name}-temp", "assetId": asset["id"], "name": "Bearing temperature",
            "kind": "temperature", "unit": "C", "minValue": -20, "maxValue": 150}  # fmt: skip
    if limits:
        vib["failHigh"], temp["failHigh"] = 9.0, 95.0
    return asset, [vib, temp]


def readings(
    u: str, name: str, end: datetime, slope: float, seed: int, days: float = SPAN
) -> list[dict[str, Any]]:
    """``days`` of 10-minute readings up to ``end``: vibration 2 mm/s rising ``slope``
    of the way to 9 mm/s per LIFE days, temperature 60 C rising a little with it."""
    rng = np.random.default_rng(seed)
    n = int(days * DAY / STEP)
    t = np.arange(n) * STEP
    wear = slope * t / (LIFE * DAY)
    vib = 2.0 + 7.0 * wear + rng.normal(0, 0.08, n)
    temp = 60.0 + 10.0 * wear + rng.normal(0, 0.3, n)
    start_ms = int(end.timestamp() * 1000) - n * STEP * 1000
    out = []
    for i in range(n):
        ts = start_ms + int(t[i]) * 1000
        out.append({"sensor_id": f"{u}-{name}-vib", "value": float(vib[i]), "timestamp": ts})
        out.append({"sensor_id": f"{u}-{name}-temp", "value": float(temp[i]), "timestamp": ts})
    return out


async def setup(api: Api, u: str, pumps: dict[str, tuple[float, bool]]) -> datetime:
    end = now_minute()
    assets, sensors = [], []
    for name, (_, limits) in pumps.items():
        a, s = pump(u, name, limits)
        assets.append(a)
        sensors += s
    await api.ok(REGISTER, {"assets": assets, "sensors": sensors})
    for k, (name, (slope, _)) in enumerate(pumps.items()):
        r = await api.client.post("/ingest", json=readings(u, name, end, slope, k),
                                  headers={"Authorization": f"Bearer {INGEST}"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["rejected"] == 0, r.json()
    await api.services.ingest.writer.flush()
    return end


async def test_a_wearing_pump_gets_its_rul_and_one_work_order(api: Api, uid: str) -> None:
    await setup(api, uid, {"wearing": (1.0, True), "steady": (0.0, True), "bare": (1.0, False)})
    wearing = f"{uid}-wearing"

    h = (await api.ok(HEALTH, {"id": wearing}, token=VIEWER))["asset"]["health"]
    true_rul_h = (LIFE - SPAN) * 24
    assert h["assessmentId"] is None and h["workOrder"] is None  # computed, not stored
    assert h["limitingSensor"] == f"{uid}-wearing-vib"
    # vibration's normal level is that of the first 4 days; now it is 3/4 of the way to 9
    normal = 2.0 + 7.0 * 2.0 / LIFE  # median of the whole windows in the first 4 days: day 2
    level = 2.0 + 7.0 * (SPAN - 0.5 - 2.5 / 24) / LIFE
    assert h["healthIndex"] == pytest.approx((9 - level) / (9 - normal), abs=0.05)
    rul = h["rul"]
    assert rul["unknownReason"] is None and rul["confidence"] == pytest.approx(0.8)
    assert rul["hours"] == pytest.approx(true_rul_h, rel=0.2)
    assert rul["low"] <= rul["hours"] <= rul["high"]
    assert h["priority"] == "HIGH" and "below 720 h" in h["recommendation"]
    assert h["anomaly"] == {"score": None, "anomalous": False, "modelVersion": None,
                            "unknownReason": "no_model", "contributions": []}  # fmt: skip

    # as of 10 days ago the twin knew only the data up to then: 10 more days of life
    past = now_minute() - timedelta(days=10)
    old = await api.ok(HEALTH, {"id": wearing, "asOf": past.isoformat()}, token=VIEWER)
    old_h = old["asset"]["health"]
    assert old_h["asOf"].startswith(past.isoformat()[:16])
    assert old_h["rul"]["hours"] == pytest.approx(true_rul_h + 240, rel=0.2)
    assert old_h["healthIndex"] > h["healthIndex"] + 0.2

    steady = (await api.ok(HEALTH, {"id": f"{uid}-steady"}, token=VIEWER))["asset"]["health"]
    assert steady["healthIndex"] == pytest.approx(1.0, abs=0.05)
    assert steady["rul"]["hours"] is None
    assert steady["rul"]["unknownReason"] in {"not_degrading", "no_trend"}
    assert steady["priority"] == "LOW"
    bare = (await api.ok(HEALTH, {"id": f"{uid}-bare"}, token=VIEWER))["asset"]["health"]
    assert bare["healthIndex"] is None and bare["unknownReason"] == "no_failure_limit"
    assert bare["rul"]["unknownReason"] == "no_failure_limit"

    # storing takes an operator; the first assessment opens the order, the next finds it
    denied = await api.gql(ASSESS, {"id": wearing}, token=VIEWER)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    first = (await api.ok(ASSESS, {"id": wearing}, token=OPERATOR))["assessHealth"]
    order = first["workOrder"]
    assert order["status"] == "OPEN" and order["priority"] == 2
    assert order["assessmentId"] == first["assessmentId"]
    second = (await api.ok(ASSESS, {"id": wearing}, token=OPERATOR))["assessHealth"]
    assert (
        second["workOrder"]["id"] == order["id"] and second["assessmentId"] != first["assessmentId"]
    )
    calm = (await api.ok(ASSESS, {"id": f"{uid}-steady"}, token=OPERATOR))["assessHealth"]
    assert calm["workOrder"] is None and calm["priority"] == "LOW"

    hist = (await api.ok(HISTORY, {"id": wearing}, token=VIEWER))["healthHistory"]["edges"]
    assert [e["node"]["id"] for e in hist] == [second["assessmentId"], first["assessmentId"]]
    assert hist[0]["node"]["rul"]["hours"] == pytest.approx(second["rul"]["hours"])
    orders = await api.ok('query($a: ID) { workOrders(assetId: $a) { edges { node { id } } } }',
                          {"a": wearing}, token=VIEWER)  # fmt: skip
    assert [e["node"]["id"] for e in orders["workOrders"]["edges"]] == [order["id"]]


async def test_anomaly_model_trained_on_a_healthy_window_flags_the_drift(
    api: Api, uid: str
) -> None:
    end = await setup(api, uid, {"wearing": (1.0, True), "steady": (0.0, True)})
    start = end - timedelta(days=SPAN)
    window = {"from": start.isoformat(), "to": (start + timedelta(days=8)).isoformat()}
    denied = await api.gql(TRAIN, {"id": f"{uid}-steady", **window}, token=OPERATOR)
    assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for name in ("wearing", "steady"):
        # a job: answered at once, followed to its end, its model read off it
        started = await api.ok(TRAIN, {"id": f"{uid}-{name}", **window}, token=ADMIN)
        job = started["trainAnomalyModel"]
        assert (job["kind"], job["status"]) == ("ANOMALY_TRAINING", "queued")
        assert job["assetId"] == f"{uid}-{name}"
        updates = await progress(api, job["id"])
        assert updates[-1]["status"] == "succeeded" and updates[-1]["progress"] == 1.0
        fractions = [u["progress"] for u in updates]
        assert fractions == sorted(fractions)  # progress never goes back
        done = await finished(api, job["id"], MODEL, token=VIEWER)
        assert (done["status"], done["phase"], done["errorCode"]) == ("succeeded", "done", None)
        model = done["anomalyModel"]
        assert model["version"] == 1 and model["metrics"]["windows"] >= 10
        assert model["metrics"]["sensors"] == [f"{uid}-{name}-temp", f"{uid}-{name}-vib"]
        assert (api.services.settings.data_dir / "models" / f"{model['id']}.iforest").is_file()
    wearing = (await api.ok(HEALTH, {"id": f"{uid}-wearing"}, token=VIEWER))["asset"]["health"]
    assert wearing["anomaly"]["anomalous"] and wearing["anomaly"]["score"] == 1.0
    assert wearing["anomaly"]["modelVersion"] == 1
    shares = {c["sensorId"]: c["share"] for c in wearing["anomaly"]["contributions"]}
    assert sum(shares.values()) == pytest.approx(1.0)
    steady = (await api.ok(HEALTH, {"id": f"{uid}-steady"}, token=VIEWER))["asset"]["health"]
    assert not steady["anomaly"]["anomalous"] and steady["anomaly"]["score"] < 0.99
    # a backtest before the model's training window ended cannot use it
    early = (start + timedelta(days=5)).isoformat()
    old = await api.ok(HEALTH, {"id": f"{uid}-wearing", "asOf": early}, token=VIEWER)
    assert old["asset"]["health"]["anomaly"]["unknownReason"] == "no_model"
    models = await api.ok('query($a: ID) { anomalyModels(assetId: $a) { id version } }',
                          {"a": f"{uid}-steady"}, token=VIEWER)  # fmt: skip
    assert [m["version"] for m in models["anomalyModels"]] == [1]

    bad = await api.gql(TRAIN, {"id": f"{uid}-steady", "from": window["to"], "to": window["from"]},
                        token=ADMIN)  # fmt: skip
    assert bad["errors"][0]["extensions"]["code"] == "VALIDATION"  # at once: no job made
    assert bad["data"] is None
    # a window before any reading passes the checks, then fails in the job, coded
    empty = {"from": (start - timedelta(days=9)).isoformat(),
             "to": (start - timedelta(days=1)).isoformat()}  # fmt: skip
    job = (await api.ok(TRAIN, {"id": f"{uid}-steady", **empty}, token=ADMIN))["trainAnomalyModel"]
    failed = await finished(api, job["id"], MODEL)
    assert (failed["status"], failed["errorCode"]) == ("failed", "VALIDATION"), failed
    assert failed["message"] and failed["anomalyModel"] is None
    jobs = await api.ok('query($a: ID!) { jobs(assetId: $a, kind: ANOMALY_TRAINING) { id status } }',
                        {"a": f"{uid}-steady"}, token=VIEWER)  # fmt: skip
    assert [j["status"] for j in jobs["jobs"]] == ["failed", "succeeded"]


async def test_fleet_failures_calibrate_the_rul(api: Api, uid: str) -> None:
    """Three pumps of the type ran to failure (recorded): the RUL learns from them."""
    end = now_minute()
    lives = {"f1": 0.95, "f2": 1.0, "f3": 1.05}  # wear rates: they fail near day 40
    await setup(api, uid, {"probe": (1.0, True)})
    for k, (name, rate) in enumerate(lives.items()):
        a, s = pump(uid, name)
        await api.ok(REGISTER, {"assets": [a], "sensors": s})
        # a whole life, from its replacement to its failure (wear reaches 1 there)
        fail_at = end - timedelta(days=1 + k)
        days = LIFE / rate
        start = fail_at - timedelta(days=days)
        got = readings(uid, name, fail_at, rate, 10 + k, days=days)
        r = await api.client.post(
            "/ingest", json=got, headers={"Authorization": f"Bearer {INGEST}"}
        )
        assert r.status_code == 200, r.text
        events = [
            {"id": f"{uid}-{name}-new", "assetId": a["id"], "kind": "replacement",
             "at": start.isoformat()},
            {"id": f"{uid}-{name}-trip", "assetId": a["id"], "kind": "failure",
             "at": fail_at.isoformat()},
        ]  # fmt: skip
        await api.ok("mutation($e: [MaintenanceEventInput!]) { recordMaintenance(events: $e) "
                     "{ events { id } } }", {"e": events})  # fmt: skip
    await api.services.ingest.writer.flush()
    h = (await api.ok(HEALTH, {"id": f"{uid}-probe"}, token=VIEWER))["asset"]["health"]
    assert h["fleetLives"] == 3
    rul = h["rul"]
    assert rul["method"] == "trend+fleet" and rul["unknownReason"] is None
    assert rul["hours"] == pytest.approx((LIFE - SPAN) * 24, rel=0.3)
    assert rul["low"] <= rul["hours"] <= rul["high"]


async def test_scoped_and_subscribed(api: Api, uid: str) -> None:
    await setup(api, uid, {"wearing": (1.0, True)})
    out = await api.gql(ASSESS, {"id": f"{uid}-wearing"}, token=SCOPED_ENGINEER)
    assert out["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    sub = """subscription($a: ID) { healthChanges(assetId: $a) {
      missed assessment { id assetId healthIndex rul { hours } } } }"""
    async with connect(api.base, VIEWER) as ws:
        await ws.subscribe(sub, {"a": f"{uid}-wearing"})
        done = (await api.ok(ASSESS, {"id": f"{uid}-wearing"}, token=OPERATOR))["assessHealth"]
        got = (await ws.next(within=10))["healthChanges"]
    assert got["missed"] == 0
    assert got["assessment"]["id"] == done["assessmentId"]
    assert got["assessment"]["assetId"] == f"{uid}-wearing"
