"""The readings path in GraphQL over real HTTP: latest values, downsampled history,
aligned series, asset summaries, the ingestReadings mutation, DataLoader batching
(500 sensors' latest values are one store call) and the example plant end to end.

Readings are generated here with numpy (1 Hz for an hour) and pushed through the real
pipeline into the app's readings store (DuckDB, and QuestDB too when TWINQL_QUESTDB_URL
names one: ``readings_api``); expectations are computed from the same arrays,
independently of the store's SQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.cli import EXAMPLE_PLANT
from api.readings.loaders import STORE_CALLS
from api.readings.window import (
    MAX_POINTS,
    format_bucket,
    make_window,
    parse_bucket,
    suggest_bucket,
)
from graph.bolt.importer import import_plant
from graph.changes import RegistryChange
from graph.errors import ValidationError
from graph.plantfile import load_plant_file
from graph.timeutil import to_us
from ingest.store import ReadingBatch
from tests.support.app import Api
from tests.support.plant import Plant, register
from tests.support.tokens import INGEST, OPERATOR, VIEWER


@pytest.fixture
def api(readings_api: Api) -> Api:
    """Every test here runs on each readings store (QuestDB when TWINQL_QUESTDB_URL is set)."""
    return readings_api


# -- pure: windows and buckets ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("15s", 15), ("1m", 60), ("1h", 3600), ("500ms", 0.5), ("2d", 172_800), ("90", 90)],
)
def test_parse_bucket(text: str, seconds: float) -> None:
    bucket = parse_bucket(text)
    assert bucket is not None and bucket.total_seconds() == seconds


@pytest.mark.parametrize("text", ["1y", "abc", "-1m", "1 minute", "0.1ms", "0s"])
def test_parse_bucket_refuses(text: str) -> None:
    with pytest.raises(ValidationError):
        parse_bucket(text)


@given(st.integers(1, 10_000), st.sampled_from(["ms", "s", "m", "h", "d", "w"]))
def test_bucket_format_round_trips(n: int, unit: str) -> None:
    bucket = parse_bucket(f"{n}{unit}")
    assert bucket is not None
    assert parse_bucket(format_bucket(bucket)) == bucket


@given(st.integers(1, 10 * 365 * 86_400))
def test_suggested_bucket_fits(span_s: int) -> None:
    span = timedelta(seconds=span_s)
    assert span / suggest_bucket(span) <= MAX_POINTS


def test_window_defaults_and_limits() -> None:
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    w = make_window(None, None, None, now=now)
    assert (w.start, w.end, w.bucket) == (now - timedelta(hours=1), now, None)
    with pytest.raises(ValidationError, match="after its 'from'"):
        make_window(now, now - timedelta(seconds=1), None)
    with pytest.raises(ValidationError, match="UTC offset"):
        make_window(datetime(2024, 5, 1), None, None)
    with pytest.raises(ValidationError, match="at least 1m") as info:
        make_window(now - timedelta(days=6), now, "1s")
    assert info.value.details["hint"] == 'bucket: "1m"'
    w = make_window(now - timedelta(days=1), now, None)
    with pytest.raises(ValidationError, match="ask for a bucket"):
        w.check_raw(1.0, "sensor x")
    w.check_raw(60.0, "sensor x")  # a 1-minute sensor: 1440 points are fine


# -- helpers ---------------------------------------------------------------------------


def _sensor(sid: str, asset: str, unit: str, lo: float | None = None, hi: float | None = None):
    return {
        "id": sid,
        "assetId": asset,
        "name": sid,
        "kind": "measure",
        "unit": unit,
        "minValue": lo,
        "maxValue": hi,
        "samplingRateSeconds": 1,
    }


def pumps_on_a_line(u: str, pumps: int = 2) -> Plant:
    assets: list[dict[str, Any]] = [
        {"id": f"{u}-line", "name": "Line", "type": "line", "level": "LINE"}
    ]
    sensors = []
    for i in range(pumps):
        pid = f"{u}-p{i}"
        assets.append(
            {
                "id": pid,
                "name": f"P{i}",
                "type": "pump",
                "level": "EQUIPMENT",
                "parentId": f"{u}-line",
            }
        )
        sensors += [_sensor(f"{pid}-pt", pid, "bar", 0, 16), _sensor(f"{pid}-ft", pid, "m3/h")]
    return Plant(assets, sensors)


def hour_end() -> datetime:
    """A minute boundary a little in the past: the end of the test hour."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=2)


async def push(api: Api, items: list[dict[str, Any]]) -> dict[str, Any]:
    r = await api.client.post("/ingest", json=items, headers={"Authorization": f"Bearer {INGEST}"})
    assert r.status_code == 200, r.text
    await api.settled()
    return r.json()


def one_hz(sid: str, end: datetime, values: np.ndarray) -> list[dict[str, Any]]:
    start_ms = to_us(end) // 1000 - len(values) * 1000
    return [
        {"sensor_id": sid, "value": float(v), "timestamp": start_ms + i * 1000}
        for i, v in enumerate(values)
    ]


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)


# -- latest and history ----------------------------------------------------------------


async def test_latest_and_downsampled_history(api: Api, uid: str) -> None:
    await register(api, pumps_on_a_line(uid))
    end = hour_end()
    start = end - timedelta(hours=1)
    rng = np.random.default_rng(7)
    pt = 5 + 2 * np.sin(np.arange(3600) / 300) + rng.normal(0, 0.1, 3600)
    ft = np.linspace(100, 160, 3600)
    result = await push(api, one_hz(f"{uid}-p0-pt", end, pt) + one_hz(f"{uid}-p0-ft", end, ft))
    assert result == {"accepted": 7200, "rejected": 0, "errors": []}

    data = await api.ok(
        """query($id: ID!, $from: DateTime!, $to: DateTime!) { sensor(id: $id) {
             latest { value quality timestamp sensorId assetId sensor { id unit } }
             avg: readings(from: $from, to: $to, bucket: "1m") {
               aggregate bucketSeconds unit timestamps values qualities }
             max: readings(from: $from, to: $to, bucket: "1m", aggregate: MAX) { values }
             raw: readings(from: $from, to: $to) { timestamps values qualities
               points { timestamp value quality } } } }""",
        {"id": f"{uid}-p0-pt", "from": iso(start), "to": iso(end)},
        token=VIEWER,
    )
    s = data["sensor"]
    latest = s["latest"]
    assert latest["value"] == pytest.approx(pt[-1])
    assert latest["quality"] == "good"
    assert parse(latest["timestamp"]) == end - timedelta(seconds=1)
    assert latest["assetId"] == f"{uid}-p0" and latest["sensor"] == {
        "id": f"{uid}-p0-pt",
        "unit": "bar",
    }

    avg = s["avg"]
    assert avg["aggregate"] == "AVG" and avg["bucketSeconds"] == 60 and avg["unit"] == "bar"
    assert avg["qualities"] is None
    assert [parse(t) for t in avg["timestamps"]] == [
        start + timedelta(minutes=i) for i in range(60)
    ]
    np.testing.assert_allclose(avg["values"], pt.reshape(60, 60).mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(s["max"]["values"], pt.reshape(60, 60).max(axis=1), rtol=1e-12)

    raw = s["raw"]
    assert len(raw["timestamps"]) == 3600 and set(raw["qualities"]) == {"good"}
    np.testing.assert_allclose(raw["values"], pt, rtol=1e-12)
    assert raw["points"][0] == {
        "timestamp": raw["timestamps"][0],
        "value": raw["values"][0],
        "quality": "good",
    }


async def test_fill_and_empty_buckets(api: Api, uid: str) -> None:
    await register(api, pumps_on_a_line(uid, pumps=1))
    end = hour_end()
    start = end - timedelta(minutes=10)
    # Readings in minutes 0-1 and 6 only: buckets 2-5 and 7-9 are empty.
    items = one_hz(f"{uid}-p0-ft", start + timedelta(minutes=2), np.full(120, 10.0))
    items += one_hz(f"{uid}-p0-ft", start + timedelta(minutes=7), np.full(60, 20.0))
    await push(api, items)
    q = """query($id: ID!, $from: DateTime!, $to: DateTime!, $fill: Fill!) { sensor(id: $id) {
             readings(from: $from, to: $to, bucket: "1m", fill: $fill) { timestamps values
               points { quality } } } }"""
    variables = {"id": f"{uid}-p0-ft", "from": iso(start), "to": iso(end)}
    none = (await api.ok(q, {**variables, "fill": "NONE"}))["sensor"]["readings"]
    assert none["values"] == [10.0, 10.0, 20.0]
    null = (await api.ok(q, {**variables, "fill": "NULL"}))["sensor"]["readings"]
    assert null["values"] == [10.0, 10.0, None, None, None, None, 20.0, None, None, None]
    assert [p["quality"] for p in null["points"]][:3] == ["aggregate", "aggregate", "missing"]
    prev = (await api.ok(q, {**variables, "fill": "PREVIOUS"}))["sensor"]["readings"]
    assert prev["values"] == [10.0] * 6 + [20.0] * 4
    lin = (await api.ok(q, {**variables, "fill": "LINEAR"}))["sensor"]["readings"]
    assert lin["values"][:7] == pytest.approx([10, 10, 12, 14, 16, 18, 20])
    assert lin["values"][7:] == [None, None, None]


async def test_window_errors_are_validation_with_hints(api: Api, uid: str) -> None:
    await register(api, pumps_on_a_line(uid, pumps=1))
    end = hour_end()
    q = """query($id: ID!, $from: DateTime!, $to: DateTime!, $bucket: String, $fill: Fill!) {
             sensor(id: $id) { readings(from: $from, to: $to, bucket: $bucket, fill: $fill) {
               values } } }"""
    base = {"id": f"{uid}-p0-pt", "to": iso(end), "fill": "NONE"}
    day = {**base, "from": iso(end - timedelta(days=1))}
    cases = [
        ({**day, "bucket": None}, 'bucket: "10s"'),  # 86400 raw points at 1 Hz
        ({**day, "bucket": "1s"}, 'bucket: "10s"'),
        ({**day, "bucket": "fortnight"}, None),
        ({**day, "bucket": None, "fill": "PREVIOUS"}, None),
        ({**base, "from": iso(end + timedelta(hours=1)), "bucket": "1m"}, None),
    ]
    for variables, hint in cases:
        body = await api.gql(q, variables)
        err = body["errors"][0]
        assert err["extensions"]["code"] == "VALIDATION", (variables, err)
        if hint:
            assert err["extensions"]["hint"] == hint


async def test_aligned_series_for_charts(api: Api, uid: str) -> None:
    await register(api, pumps_on_a_line(uid, pumps=2))
    end = hour_end()
    start = end - timedelta(hours=1)
    pt = np.linspace(1, 10, 3600)
    ft = np.linspace(200, 100, 1800)  # only the second half hour
    await push(api, one_hz(f"{uid}-p0-pt", end, pt) + one_hz(f"{uid}-p1-ft", end, ft))
    calls = STORE_CALLS["history"]
    data = await api.ok(
        """query($ids: [ID!]!, $from: DateTime!, $to: DateTime!) {
             readings(sensorIds: $ids, from: $from, to: $to, bucket: "1m", aggregate: MIN) {
               timestamps aggregate bucketSeconds series { sensorId unit values } } }""",
        {"ids": [f"{uid}-p0-pt", f"{uid}-p1-ft"], "from": iso(start), "to": iso(end)},
    )
    assert STORE_CALLS["history"] - calls == 1
    chart = data["readings"]
    assert chart["aggregate"] == "MIN" and chart["bucketSeconds"] == 60
    assert len(chart["timestamps"]) == 60
    a, b = chart["series"]
    assert (a["sensorId"], a["unit"], b["sensorId"], b["unit"]) == (
        f"{uid}-p0-pt",
        "bar",
        f"{uid}-p1-ft",
        "m3/h",
    )
    np.testing.assert_allclose(a["values"], pt.reshape(60, 60).min(axis=1))
    assert b["values"][:30] == [None] * 30
    np.testing.assert_allclose(b["values"][30:], ft.reshape(30, 60).min(axis=1))

    body = await api.gql(
        'query($ids: [ID!]!) { readings(sensorIds: $ids, bucket: "1m") { timestamps } }',
        {"ids": [f"{uid}-p0-pt", f"{uid}-nope"]},
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_asset_summaries_with_and_without_bad(api: Api, uid: str) -> None:
    await register(api, pumps_on_a_line(uid, pumps=3))
    end = hour_end()
    start = end - timedelta(minutes=10)
    items = []
    for i in range(3):
        items += one_hz(f"{uid}-p{i}-pt", end, np.arange(600) / 100 + i)  # 0..5.99 (+i)
    bad = {"sensor_id": f"{uid}-p1-pt", "value": 99.0, "timestamp": to_us(start) // 1000 + 100_500}
    result = await push(api, [*items, bad])
    assert result["accepted"] == 1801  # out of range is stored, as quality bad

    q = """query($id: ID!, $from: DateTime!, $to: DateTime!, $bad: Boolean!) { asset(id: $id) {
             children { nodes { id summary(from: $from, to: $to, includeBad: $bad) {
               sensorId unit count min max avg last lastAt } } } } }"""
    variables = {"id": f"{uid}-line", "from": iso(start), "to": iso(end)}
    calls = STORE_CALLS["summary"]
    good = await api.ok(q, {**variables, "bad": False})
    assert STORE_CALLS["summary"] - calls == 1  # three assets, one window: one store call
    with_bad = await api.ok(q, {**variables, "bad": True})
    for data, bad_included in ((good, False), (with_bad, True)):
        by_asset = {n["id"]: n["summary"] for n in data["asset"]["children"]["nodes"]}
        for i in range(3):
            summaries = {s["sensorId"]: s for s in by_asset[f"{uid}-p{i}"]}
            assert summaries[f"{uid}-p{i}-ft"]["count"] == 0
            assert summaries[f"{uid}-p{i}-ft"]["avg"] is None
            pt = summaries[f"{uid}-p{i}-pt"]
            values = np.arange(600) / 100 + i
            if i == 1 and bad_included:
                values = np.append(values, 99.0)
            assert pt["unit"] == "bar" and pt["count"] == len(values)
            assert pt["min"] == pytest.approx(values.min())
            assert pt["max"] == pytest.approx(values.max())
            assert pt["avg"] == pytest.approx(values.mean())
            assert pt["last"] == pytest.approx(5.99 + i)
            assert parse(pt["lastAt"]) == end - timedelta(seconds=1)


# -- batching --------------------------------------------------------------------------


async def test_latest_of_500_sensors_is_one_store_call(api: Api, uid: str) -> None:
    asset = f"{uid}-big"
    sensors = [_sensor(f"{asset}-s{i:03d}", asset, "bar") for i in range(500)]
    await register(
        api,
        Plant.of(
            {
                "assets": [{"id": asset, "name": "Big", "type": "skid", "level": "EQUIPMENT"}],
                "sensors": sensors,
            }
        ),
    )
    ids = [s["id"] for s in sensors]
    end = hour_end()
    # Half through the pipeline (its latest cache knows them), half straight into the
    # store (as after a restart): the cache misses must be one store query.
    await push(
        api,
        [
            {"sensor_id": sid, "value": i, "timestamp": to_us(end) // 1000}
            for i, sid in enumerate(ids[:250])
        ],
    )
    ts = np.full(250, to_us(end), dtype=np.int64)
    await api.services.readings.write(
        ReadingBatch.from_columns(
            ts, ids[250:], [asset] * 250, np.arange(250, 500.0), ["good"] * 250
        )
    )
    await api.services.readings.sync()
    q = "query($ids: [ID!]!) { sensors(ids: $ids) { id latest { value } } }"
    for _ in range(2):
        calls = STORE_CALLS["latest"]
        data = await api.ok(q, {"ids": ids})
        assert STORE_CALLS["latest"] - calls == 1
        assert [s["latest"]["value"] for s in data["sensors"]] == list(range(500))
    data = await api.ok(
        "query($id: ID!) { asset(id: $id) { sensors { id latest { value } } } }", {"id": asset}
    )
    assert len(data["asset"]["sensors"]) == 500
    # Sensors without any reading: null, still one call for all of them.
    calls = STORE_CALLS["latest"]
    await register(
        api,
        Plant.of(
            {"assets": [], "sensors": [_sensor(f"{asset}-new{i}", asset, "bar") for i in range(3)]}
        ),
    )
    data = await api.ok(q, {"ids": [f"{asset}-new{i}" for i in range(3)]})
    assert [s["latest"] for s in data["sensors"]] == [None] * 3
    assert STORE_CALLS["latest"] - calls == 1


async def test_history_of_many_sensors_is_one_store_call_per_window(api: Api, uid: str) -> None:
    await register(api, pumps_on_a_line(uid, pumps=5))
    end = hour_end()
    await push(api, [i for p in range(5) for i in one_hz(f"{uid}-p{p}-pt", end, np.full(120, p))])
    calls = STORE_CALLS["history"]
    data = await api.ok(
        """query($id: ID!, $to: DateTime!) { asset(id: $id) { children { nodes { id sensors {
             id a: readings(to: $to, bucket: "1m") { values }
             b: readings(to: $to, bucket: "5m", aggregate: COUNT) { values } } } } } }""",
        {"id": f"{uid}-line", "to": iso(end)},
    )
    assert STORE_CALLS["history"] - calls == 2  # ten sensors, two windows
    for node in data["asset"]["children"]["nodes"]:
        for s in node["sensors"]:
            if s["id"].endswith("-pt"):
                p = int(node["id"].rsplit("-p", 1)[1])
                assert s["a"]["values"] == [p, p] and sum(s["b"]["values"]) == 120
            else:
                assert s["a"]["values"] == [] and s["b"]["values"] == []


# -- the mutation ----------------------------------------------------------------------

INGEST_MUTATION = """mutation($r: [ReadingInput!]!) { ingestReadings(readings: $r) {
  accepted rejected errors { index sensorId reason } } }"""


async def test_ingest_readings_mutation(api: Api, uid: str) -> None:
    await register(api, pumps_on_a_line(uid, pumps=1))
    pid = f"{uid}-p0"
    at = hour_end()
    readings = [
        {
            "sensorId": f"{pid}-pt",
            "value": 4.5,
            "timestamp": iso(at),
            "unit": "bar",
            "assetId": pid,
        },
        {"sensorId": f"{pid}-ft", "value": 120, "timestamp": iso(at), "metadata": {"src": "scada"}},
        {"sensorId": f"{uid}-ghost", "value": 1},
        {"sensorId": f"{pid}-pt", "value": 1, "unit": "psi"},
        {"sensorId": f"{pid}-pt", "value": 1, "assetId": f"{uid}-line"},
        {"sensorId": f"{pid}-pt", "value": 1, "timestamp": iso(at + timedelta(days=1))},
        {"sensorId": f"{pid}-ft", "value": None, "quality": "GOOD"},
    ]
    data = await api.ok(INGEST_MUTATION, {"r": readings}, token=INGEST)
    out = data["ingestReadings"]
    assert (out["accepted"], out["rejected"]) == (2, 5)
    reasons = {e["index"]: e["reason"] for e in out["errors"]}
    assert reasons[2] == "unknown sensor"
    assert reasons[3].startswith("unit mismatch")
    assert reasons[4].startswith("asset mismatch")
    assert reasons[5] == "timestamp in the future"
    assert reasons[6].startswith("null value needs quality missing")
    latest = await api.ok(
        "query($id: ID!) { sensor(id: $id) { latest { value timestamp } } }", {"id": f"{pid}-pt"}
    )
    assert latest["sensor"]["latest"]["value"] == 4.5
    assert parse(latest["sensor"]["latest"]["timestamp"]) == at
    await api.settled()
    kept = await api.services.readings.rejected(limit=10, sensor_id=f"{uid}-ghost")
    assert [r.reason for r in kept] == ["unknown sensor"]

    for token, code in ((VIEWER, "FORBIDDEN"), (OPERATOR, "FORBIDDEN"), (None, "UNAUTHENTICATED")):
        body = await api.gql(INGEST_MUTATION, {"r": readings[:1]}, token=token)
        assert body["errors"][0]["extensions"]["code"] == code
    body = await api.gql(
        INGEST_MUTATION, {"r": [{**readings[0], "timestamp": "2024-05-01T12:00:00"}]}, token=INGEST
    )
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "UTC offset" in body["errors"][0]["message"]


async def test_readings_need_a_reader(api: Api, uid: str) -> None:
    await register(api, pumps_on_a_line(uid, pumps=1))
    q = 'query { readings(sensorIds: ["%s-p0-pt"], bucket: "1m") { timestamps } }' % uid
    body = await api.gql(q, token=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


# -- the example plant -----------------------------------------------------------------


async def test_example_plant_line_with_latest_and_history_in_one_query(api: Api) -> None:
    await import_plant(api.services.repo, load_plant_file(EXAMPLE_PLANT))
    await api.services.registry.publish(RegistryChange.everything())
    line = await api.ok(
        'query { asset(id: "ps-line-1") { children { nodes { id sensors { id unit minValue maxValue } } } } }'
    )
    sensors = [s for n in line["asset"]["children"]["nodes"] for s in n["sensors"]]
    assert sensors, "the example line has equipment with sensors"
    end = hour_end()
    end -= timedelta(minutes=end.minute % 5)  # 5-minute buckets align to epoch multiples
    items = []
    expected: dict[str, np.ndarray] = {}
    for k, s in enumerate(sensors):
        lo = s["minValue"] if s["minValue"] is not None else 0.0
        hi = s["maxValue"] if s["maxValue"] is not None else 100.0
        values = lo + (hi - lo) * (0.25 + 0.5 * (np.arange(3600) % (60 + k)) / (60 + k))
        expected[s["id"]] = values
        items += [{**item, "unit": s["unit"]} for item in one_hz(s["id"], end, values)]
    result = await push(api, items)
    assert result["accepted"] == len(items) and result["rejected"] == 0

    calls = dict(STORE_CALLS)
    data = await api.ok(
        """query($to: DateTime!) { asset(id: "ps-line-1") { name children { nodes {
             id name sensors { id unit latest { value timestamp quality }
               readings(to: $to, bucket: "5m") { timestamps values } } } } } }""",
        {"to": iso(end)},
        token=VIEWER,
    )
    assert STORE_CALLS["history"] - calls.get("history", 0) == 1
    assert STORE_CALLS["latest"] - calls.get("latest", 0) <= 1
    seen = 0
    for node in data["asset"]["children"]["nodes"]:
        for s in node["sensors"]:
            values = expected[s["id"]]
            assert s["latest"]["value"] == pytest.approx(values[-1])
            assert s["latest"]["quality"] == "good"
            assert len(s["readings"]["timestamps"]) == 12
            np.testing.assert_allclose(
                s["readings"]["values"], values.reshape(12, 300).mean(axis=1), rtol=1e-9
            )
            seen += 1
    assert seen == len(sensors)
