"""POST /ingest over real HTTP: JSON arrays and NDJSON, per-item rejections kept for
inspection, whole-body failures (400, 413, 415), and auth (401, 403)."""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from api.app import create_app
from api.readings.http import MAX_BODY, routes
from api.services.container import Services
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from ingest.store import DuckDBStore
from tests.support.app import Api, app_settings, served
from tests.support.plant import Plant, register
from tests.support.polling import eventually
from tests.support.tokens import ADMIN, INGEST, OPERATOR, VIEWER


@pytest.fixture
def api(readings_api: Api) -> Api:
    """Every test here runs on each readings store (QuestDB when TWINQL_QUESTDB_URL is set)."""
    return readings_api


LATEST = "query($ids: [ID!]!) { sensors(ids: $ids) { id latest { value quality timestamp } } }"


def pump_and_tank(u: str) -> Plant:
    return Plant.of(
        {
            "assets": [
                {"id": f"{u}-pump", "name": "Pump", "type": "pump", "level": "EQUIPMENT"},
                {"id": f"{u}-tank", "name": "Tank", "type": "tank", "level": "EQUIPMENT"},
            ],
            "sensors": [
                {
                    "id": f"{u}-pt",
                    "assetId": f"{u}-pump",
                    "name": "Pressure",
                    "kind": "pressure",
                    "unit": "bar",
                    "minValue": 0,
                    "maxValue": 16,
                },
                {
                    "id": f"{u}-tt",
                    "assetId": f"{u}-pump",
                    "name": "Temperature",
                    "kind": "temperature",
                    "unit": "°C",
                },
            ],
        },
    )


def headers(token: str | None = INGEST, content_type: str = "application/json") -> dict[str, str]:
    out = {"Content-Type": content_type}
    if token:
        out["Authorization"] = f"Bearer {token}"
    return out


def ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def latest(api: Api, *ids: str) -> dict[str, Any]:
    data = await api.ok(LATEST, {"ids": list(ids)}, token=VIEWER)
    return {s["id"]: s["latest"] for s in data["sensors"]}


async def test_json_array_with_good_and_bad_items(api: Api, uid: str) -> None:
    await register(api, pump_and_tank(uid))
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    items: list[dict[str, Any]] = [
        {"sensor_id": f"{uid}-pt", "value": 4.2, "timestamp": ms(at), "unit": "bar"},
        {
            "sensor_id": f"{uid}-tt",
            "value": 61.5,
            "timestamp": at.isoformat().replace("+00:00", "Z"),
            "unit": "degC",
            "asset_id": f"{uid}-pump",
            "quality": "suspect",
            "metadata": {"line": 3},
        },
        {"sensor_id": f"{uid}-ghost", "value": 1.0},  # 2: unknown sensor
        {"sensor_id": f"{uid}-pt", "value": 3.0, "unit": "psi"},  # 3: wrong unit
        {"sensor_id": f"{uid}-pt", "value": 40.0, "timestamp": ms(at) + 500},  # 4: out of range
        {"sensor_id": f"{uid}-pt", "value": float("nan")},  # 5: NaN
        {"sensor_id": f"{uid}-pt", "value": 1.0, "timestamp": ms(at + timedelta(hours=2))},  # 6
        {"sensor_id": f"{uid}-pt", "value": 1.0, "asset_id": f"{uid}-tank"},  # 7: asset mismatch
        {"sensor_id": f"{uid}-pt", "value": 1.0, "timestmp": ms(at)},  # 8: misspelt field
        {"sensor_id": f"{uid}-pt", "value": "high"},  # 9: not a number
        {"sensor_id": f"{uid}-pt", "value": 1.0, "timestamp": "yesterday"},  # 10
    ]
    body = json.dumps(items)  # NaN is written as the JSON extension NaN
    r = await api.client.post("/ingest", content=body, headers=headers())
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (3, 8)
    reasons = {e["index"]: e["reason"] for e in out["errors"]}
    assert sorted(reasons) == [2, 3, 5, 6, 7, 8, 9, 10]
    assert reasons[2] == "unknown sensor"
    assert reasons[3].startswith("unit mismatch")
    assert reasons[5] == "non-finite value"
    assert reasons[6] == "timestamp in the future"
    assert reasons[7].startswith("asset mismatch")
    assert "timestmp" in reasons[8]
    assert reasons[9].startswith("non-numeric value")
    assert "RFC 3339" in reasons[10]
    assert all(e["sensor_id"] for e in out["errors"])

    values = await latest(api, f"{uid}-pt", f"{uid}-tt")
    assert values[f"{uid}-pt"]["value"] == 40.0  # the newest, stored as bad
    assert values[f"{uid}-pt"]["quality"] == "bad"
    assert values[f"{uid}-tt"] == {
        "value": 61.5,
        "quality": "suspect",
        "timestamp": at.isoformat(),
    }

    await api.settled()
    kept = await api.services.readings.rejected(limit=50, sensor_id=f"{uid}-pt")
    assert len(kept) == 7  # every rejected item of a known sensor, with its raw text
    assert {r.reason for r in kept} >= {"non-finite value", "timestamp in the future"}
    ghost = await api.services.readings.rejected(limit=5, sensor_id=f"{uid}-ghost")
    assert [json.loads(g.raw)["value"] for g in ghost] == [1.0]


async def test_huge_integer_and_pre_1970_items_are_rejected_not_a_500(api: Api, uid: str) -> None:
    """An integer beyond float64 (10**400) and a reading stamped before 1970 are rejected
    items with reasons; the valid items of the same body are stored."""
    await register(api, pump_and_tank(uid))
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    body = (
        f'[{{"sensor_id": "{uid}-tt", "value": 1{"0" * 400}, "timestamp": {ms(at)}}},'
        f' {{"sensor_id": "{uid}-tt", "value": 2.5, "timestamp": "1960-01-01T00:00:00Z"}},'
        f' {{"sensor_id": "{uid}-tt", "value": 3.5, "timestamp": -1000}},'
        f' {{"sensor_id": "{uid}-tt", "value": 21.0, "timestamp": {ms(at)}}}]'
    )
    r = await api.client.post("/ingest", content=body, headers=headers())
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (1, 3)
    assert [(e["index"], e["reason"]) for e in out["errors"]] == [
        (0, "non-finite value: beyond the float64 range"),
        (1, "timestamp before 1970-01-01"),
        (2, "timestamp before 1970-01-01"),
    ]
    assert (await latest(api, f"{uid}-tt"))[f"{uid}-tt"]["value"] == 21.0
    await api.settled()
    kept = await api.services.readings.rejected(limit=10, sensor_id=f"{uid}-tt")
    assert sorted(r.reason for r in kept) == [
        "non-finite value: beyond the float64 range",
        "timestamp before 1970-01-01",
        "timestamp before 1970-01-01",
    ]


async def test_lone_surrogate_in_a_rejected_item_is_kept_escaped(api: Api, uid: str) -> None:
    """A JSON escape for a lone surrogate in a rejected item's sensor id: answered (not a
    500) and stored in rejected_readings with the escape as text."""
    sid = f"{uid}-\\ud800"
    body = f'[{{"sensor_id": "{sid}", "value": 1}}]'
    r = await api.client.post("/ingest", content=body, headers=headers())
    assert r.status_code == 200, r.text
    assert r.json()["errors"][0]["sensor_id"] == sid
    await api.settled()
    kept = await api.services.readings.rejected(limit=5, sensor_id=sid)
    assert len(kept) == 1 and "sensor_id" in kept[0].reason
    assert api.services.ingest.writer.stats().quarantined == 0


def transpose(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Reading objects as the columnar body (None where an object has no such field)."""
    return {
        k: [item.get(k) for item in items] for k in ("sensor_id", "value", "timestamp", "quality")
    }


async def test_a_columnar_body_is_judged_like_the_same_readings_as_objects(
    api: Api, uid: str
) -> None:
    """The same readings, as objects for one plant and as columns for a twin of it:
    the same answer position by position, the same values stored, the same letters."""
    one, two = f"{uid}-o", f"{uid}-c"
    await register(api, pump_and_tank(one))
    await register(api, pump_and_tank(two))
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)

    def items(u: str) -> list[dict[str, Any]]:
        return [
            {"sensor_id": f"{u}-pt", "value": 4.2, "timestamp": ms(at)},
            {
                "sensor_id": f"{u}-tt",
                "value": 61,
                "timestamp": at.isoformat(),
                "quality": "suspect",
            },
            {"sensor_id": f"{u}-ghost", "value": 1.0},  # 2: unknown sensor
            {"sensor_id": f"{u}-pt", "value": 40.0, "timestamp": ms(at) + 500},  # 3: stored bad
            {"sensor_id": f"{u}-pt", "value": float("nan")},  # 4: non-finite
            {"sensor_id": f"{u}-pt", "value": 1.0, "timestamp": ms(at + timedelta(hours=2))},
            {"sensor_id": f"{u}-tt", "value": None, "timestamp": ms(at) + 1, "quality": "missing"},
            {"sensor_id": f"{u}-tt", "value": None, "quality": "good"},  # 7: null needs missing
            {"sensor_id": f"{u}-pt", "value": "high"},  # 8: not a number
            {"sensor_id": f"{u}-pt", "value": 1.0, "timestamp": "yesterday"},  # 9
            {"sensor_id": f"{u}-pt", "value": 1.0, "quality": "great"},  # 10
            {"sensor_id": f"{u}-pt", "value": True, "timestamp": ms(at) - 1000},  # 1.0
            {"sensor_id": f"{u}-pt", "value": 2.5, "timestamp": "1969-12-31T23:59:59Z"},  # 12
        ]

    answers = []
    for body in (items(one), transpose(items(two))):
        r = await api.client.post("/ingest", content=json.dumps(body), headers=headers())
        assert r.status_code == 200, r.text
        answers.append(r.json())
    objects, columns = answers
    assert (columns["accepted"], columns["rejected"]) == (5, 8)

    def judged(out: dict[str, Any], u: str) -> list[tuple[int, str | None, str]]:
        return [(e["index"], (e["sensor_id"] or "").replace(u, "U"), e["reason"])
                for e in out["errors"]]  # fmt: skip

    assert judged(columns, two) == judged(objects, one)
    assert (columns["accepted"], columns["rejected"]) == (objects["accepted"], objects["rejected"])
    assert [e["index"] for e in columns["errors"]] == [2, 4, 5, 7, 8, 9, 10, 12]
    got = await latest(api, f"{one}-pt", f"{one}-tt", f"{two}-pt", f"{two}-tt")
    assert got[f"{two}-pt"] == got[f"{one}-pt"] and got[f"{two}-pt"]["quality"] == "bad"
    assert got[f"{two}-tt"]["value"] is None and got[f"{two}-tt"]["quality"] == "missing"
    await api.settled()
    store = api.services.readings
    for u in (one, two):
        kept = await store.rejected(limit=50, sensor_id=f"{u}-pt")
        assert len(kept) == 6, [k.reason for k in kept]
    kept = await store.rejected(limit=50, sensor_id=f"{two}-pt")
    assert {json.loads(k.raw)["sensor_id"] for k in kept} == {f"{two}-pt"}


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"sensor_id": ["a", "b"], "value": [1.0]}, 400, "value has 1 elements, sensor_id has 2"),
        ({"sensor_id": ["a"], "value": [1.0], "unit": ["bar"]}, 400, "unknown field(s) unit"),
        ({"sensor_id": ["a"]}, 400, "value is required"),
        ({"sensor_id": ["a"], "value": 1.0}, 400, "value must be an array"),
    ],
)
async def test_columnar_bodies_that_are_not_columns(
    api: Api, body: dict[str, Any], status: int, words: str
) -> None:
    r = await api.client.post("/ingest", json=body, headers=headers())
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]


async def test_a_columnar_body_over_the_item_limit_is_413(api: Api) -> None:
    limit = api.services.ingest.settings.max_body_items
    body = {"sensor_id": ["x"] * (limit + 1), "value": [1.0] * (limit + 1)}
    r = await api.client.post("/ingest", json=body, headers=headers())
    assert r.status_code == 413, r.text
    assert str(limit) in r.json()["error"]["message"]


async def test_ndjson_lines_are_items(api: Api, uid: str) -> None:
    await register(api, pump_and_tank(uid))
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    lines = [
        json.dumps({"sensor_id": f"{uid}-pt", "value": 1.0 + i, "timestamp": ms(at) + i * 1000})
        for i in range(5)
    ]
    lines.insert(2, '{"sensor_id": "broken", "value": ')  # a torn line
    lines.append("")  # blank lines are skipped
    lines.append(json.dumps({"sensor_id": f"{uid}-tt", "value": None, "quality": "missing"}))
    body = "\n".join(lines) + "\n"
    for content_type in ("application/x-ndjson", "application/x-ndjson; charset=utf-8"):
        r = await api.client.post(
            "/ingest", content=body, headers=headers(content_type=content_type)
        )
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["accepted"], out["rejected"]) == (6, 1)
        assert out["errors"][0]["index"] == 2
        assert out["errors"][0]["reason"].startswith("malformed JSON")
    values = await latest(api, f"{uid}-pt", f"{uid}-tt")
    assert values[f"{uid}-pt"]["value"] == 5.0
    assert values[f"{uid}-tt"]["value"] is None and values[f"{uid}-tt"]["quality"] == "missing"


@pytest.mark.parametrize(
    ("body", "content_type", "status", "words"),
    [
        (b"[{]", "application/json", 400, "malformed JSON body"),
        (b'{"sensor_id": "x", "value": 1', "application/json", 400, "malformed JSON body"),
        (b"\xff\xfe[]", "application/json", 400, "not UTF-8"),
        (b"   ", "application/json", 400, "empty"),
        (b"<xml/>", "application/xml", 415, "application/x-ndjson"),
    ],
)
async def test_unusable_bodies(
    api: Api, body: bytes, content_type: str, status: int, words: str
) -> None:
    r = await api.client.post("/ingest", content=body, headers=headers(content_type=content_type))
    assert r.status_code == status, r.text
    out = r.json()
    assert out["error"]["code"] == "VALIDATION"
    assert words in out["error"]["message"]
    if status == 400 and "accepted" in out:
        assert (out["accepted"], out["rejected"]) == (0, 1)


async def test_malformed_body_is_kept_for_inspection(api: Api, uid: str) -> None:
    body = '[{"sensor_id": "%s-pt", "value": 1' % uid
    r = await api.client.post("/ingest", content=body, headers=headers())
    assert r.status_code == 400
    await api.settled()
    kept = await api.services.readings.rejected(limit=200)
    assert any(k.raw == body for k in kept)


async def test_too_many_items_is_413(api: Api) -> None:
    limit = api.services.ingest.settings.max_body_items
    body = "\n".join(['{"sensor_id": "x", "value": 1}'] * (limit + 1))
    r = await api.client.post(
        "/ingest", content=body, headers=headers(content_type="application/x-ndjson")
    )
    assert r.status_code == 413, r.text
    assert str(limit) in r.json()["error"]["message"]


async def test_body_size_limit_is_413(api: Api, uid: str) -> None:
    """The limit is a parameter of the route; a small one keeps the test light. The
    body is streamed in chunks without a length, so the limit is enforced while reading."""
    await register(api, pump_and_tank(uid))
    app = Starlette(routes=routes(api.services, max_body=1024))
    item = json.dumps({"sensor_id": f"{uid}-pt", "value": 1.0}).encode()

    async def chunks(n: int):  # noqa: ANN202
        yield b"["
        for i in range(n):
            yield (b"," if i else b"") + item
        yield b"]"

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest"
    ) as client:
        big = await client.post("/ingest", content=chunks(100), headers=headers())
        assert big.status_code == 413 and "1024 bytes" in big.json()["error"]["message"]
        small = await client.post("/ingest", content=chunks(5), headers=headers())
        assert small.status_code == 200 and small.json()["accepted"] == 5
        declared = await client.post(
            "/ingest", content=b"[" + b" " * 2000 + b"]", headers=headers()
        )
        assert declared.status_code == 413
    assert MAX_BODY == 16 * 1024 * 1024


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        (None, 401, "UNAUTHENTICATED"),
        ("not-a-known-token-at-all", 401, "UNAUTHENTICATED"),
        (VIEWER, 403, "FORBIDDEN"),
        (OPERATOR, 403, "FORBIDDEN"),
    ],
)
async def test_auth_failures(api: Api, token: str | None, status: int, code: str) -> None:
    r = await api.client.post("/ingest", content=b"[]", headers=headers(token))
    assert r.status_code == status
    assert r.json()["error"]["code"] == code
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"


async def test_admin_may_ingest_and_get_is_not_allowed(api: Api, uid: str) -> None:
    await register(api, pump_and_tank(uid))
    r = await api.client.post(
        "/ingest", json=[{"sensor_id": f"{uid}-pt", "value": 2.0}], headers=headers(ADMIN)
    )
    assert r.status_code == 200 and r.json() == {"accepted": 1, "rejected": 0, "errors": []}
    assert (await api.client.get("/ingest", headers=headers())).status_code == 405
    r = await api.client.post("/ingest", content=b"Bearer", headers={"Authorization": "Basic x"})
    assert r.status_code == 401


_LOCKER = "import sys, time, duckdb\nc = duckdb.connect(sys.argv[1])\nprint('locked', flush=True)\ntime.sleep(600)\n"


async def test_a_writer_fault_fails_readyz_and_ingest_until_it_clears(
    graph_server: EmbeddedGraphServer, tmp_path: Path, uid: str
) -> None:
    """An app of its own: its readings store goes down (another process takes the DuckDB
    file lock) and its spill directory is gone, so the batching writer can neither write
    nor spill. POST /ingest answers 503 (the reading is not durable, so not accepted)
    and /readyz says why; once store and spill directory are back, both recover by
    themselves, without a restart."""
    port = free_port()
    settings = app_settings(
        graph_server, tmp_path, port, f"{ADMIN}:admin:alice,{VIEWER}:viewer:vic,{INGEST}:ingest:dev"
    )
    app = create_app(settings)
    locker: asyncio.subprocess.Process | None = None
    spill = tmp_path / "spill"
    async with served(app, port) as base, httpx.AsyncClient(base_url=base, timeout=60) as http:
        try:
            services: Services = app.state.services
            api = Api(f"http://127.0.0.1:{port}", http, services)
            await register(api, pump_and_tank(uid))
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["ingest"] == "ok"
            store = services.readings
            assert isinstance(store, DuckDBStore)
            await store.disconnect()
            locker = await asyncio.create_subprocess_exec(
                sys.executable, "-c", _LOCKER, store.path, stdout=asyncio.subprocess.PIPE
            )
            assert locker.stdout is not None
            assert (await locker.stdout.readline()).strip() == b"locked"
            shutil.rmtree(spill)
            spill.write_text("not a directory")
            item = {"sensor_id": f"{uid}-pt", "value": 1.0}
            r = await http.post("/ingest", content=json.dumps([item]), headers=headers())
            assert r.status_code == 503 and r.json()["error"]["code"] == "UNAVAILABLE"
            assert "cannot write or spill" in r.json()["error"]["message"]
            writer = services.ingest.writer
            assert writer.fault is not None
            down = await http.get("/readyz")
            assert down.status_code == 503
            assert down.json()["checks"]["ingest"].startswith("the batch writer cannot write")
            r = await http.post("/ingest", content=json.dumps([item]), headers=headers())
            assert r.status_code == 503 and r.json()["error"]["code"] == "UNAVAILABLE"
            locker.kill()
            await locker.wait()
            spill.unlink()
            spill.mkdir()
            await eventually(
                lambda: writer.fault is None, within=30, what="the writer's fault clears"
            )
            ready = await http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["checks"]["ingest"] == "ok"
            later = {"sensor_id": f"{uid}-pt", "value": 2.0}
            r = await http.post("/ingest", content=json.dumps([later]), headers=headers())
            assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
        finally:
            if locker is not None and locker.returncode is None:
                locker.kill()
                await locker.wait()
            if not spill.is_dir():
                spill.unlink(missing_ok=True)
                spill.mkdir()
    # the readings the writer held through its fault were written on recovery
    async with DuckDBStore(tmp_path / "readings.duckdb") as reopened:
        assert len(await reopened.latest([f"{uid}-pt"])) == 1
