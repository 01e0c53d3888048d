"""``serviceStatus`` and ``GET /metrics`` over real HTTP: readings pushed through
``POST /ingest`` move the ingest, live-bus and latest-cache figures; /metrics speaks the
Prometheus text format and asks for a viewer token unless anonymous reads are allowed.

The app is shared by the session (connectors and other tests may ingest too), so
counters are checked to grow by at least what this test sent."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from starlette.applications import Starlette

from api.status.prometheus import CONTENT_TYPE, render_metrics, routes
from api.status.snapshot import StatusSnapshot
from ingest.pipeline.writer import WriterStats
from tests.support.app import Api
from tests.support.plant import Plant, register
from tests.support.polling import eventually
from tests.support.tokens import INGEST, VIEWER

T = TypeVar("T")

STATUS = """
{ serviceStatus {
    started
    ingest { received stored rejected spilled replayed storeErrors deadLettered quarantined
             queueDepth lagSeconds
             spillPending }
    liveBus { published subscribers }
    latestCacheSize
    connectors { total byState { state count } deadLetters events eventsStored eventQueueWaits
                 eventStoreErrors reconciles reconcileErrors }
    simulation { slotsInUse slots }
} }
"""
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$")


def pressure_pump(u: str) -> Plant:
    return Plant.of(
        {
            "assets": [{"id": f"{u}-pump", "name": "Pump", "type": "pump", "level": "EQUIPMENT"}],
            "sensors": [
                {
                    "id": f"{u}-pt",
                    "assetId": f"{u}-pump",
                    "name": "Pressure",
                    "kind": "pressure",
                    "unit": "bar",
                    "minValue": 0,
                    "maxValue": 16,
                }
            ],
        },
    )


async def push(api: Api, sensor: str, good: int, bad: int = 0) -> None:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    items = [
        {"sensor_id": sensor, "value": 1.0 + i, "timestamp": int((at.timestamp() + i) * 1000)}
        for i in range(good)
    ] + [{"sensor_id": f"{sensor}-unknown", "value": 1.0} for _ in range(bad)]
    r = await api.client.post("/ingest", json=items, headers={"Authorization": f"Bearer {INGEST}"})
    assert r.status_code == 200, r.text
    assert (r.json()["accepted"], r.json()["rejected"]) == (good, bad)


def parse_metrics(text: str) -> tuple[dict[str, str], dict[str, float]]:
    """Types by metric name and values by sample (``name{labels}``); asserts the format."""
    assert text.endswith("\n")
    types: dict[str, str] = {}
    helped: set[str] = set()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split(" ")[2])
        elif line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge") and name not in types, line
            assert name in helped, f"{name}: TYPE before HELP"
            types[name] = kind
        else:
            m = _SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.groups()
            assert name in types, f"{name}: sample without TYPE"
            values[name + (labels or "")] = float(value)
    for name, kind in types.items():
        assert name.startswith("twinql_"), name
        assert name.endswith("_total") == (kind == "counter"), name
    return types, values


async def status(api: Api, token: str | None = VIEWER) -> dict[str, Any]:
    return (await api.ok(STATUS, token=token))["serviceStatus"]


async def test_service_status_moves_with_ingest(api: Api, uid: str) -> None:
    await register(api, pressure_pump(uid))
    sensor = f"{uid}-pt"
    before = await status(api)
    assert before["started"] is True
    await push(api, sensor, good=5, bad=1)

    def moved(s: dict[str, Any]) -> bool:
        return (
            s["ingest"]["stored"] >= before["ingest"]["stored"] + 5
            and s["ingest"]["rejected"] >= before["ingest"]["rejected"] + 1
        )

    after = await eventually(lambda: status(api), done=moved, within=20, every=0.05)
    assert moved(after), (before, after)
    ing, was = after["ingest"], before["ingest"]
    assert ing["received"] >= was["received"] + 5
    assert ing["storeErrors"] == was["storeErrors"] and ing["spillPending"] is False
    assert ing["queueDepth"] >= 0 and ing["lagSeconds"] >= 0
    assert after["liveBus"]["published"] >= before["liveBus"]["published"] + 1
    assert after["liveBus"]["subscribers"] >= 0
    assert after["latestCacheSize"] >= 1
    conn = after["connectors"]
    assert conn["total"] == sum(s["count"] for s in conn["byState"])
    assert {s["state"] for s in conn["byState"]} == {
        "CONNECTED",
        "CONNECTING",
        "DISCONNECTED",
        "ERROR",
    }
    sim = after["simulation"]
    assert sim["slots"] > 0 and 0 <= sim["slotsInUse"] <= sim["slots"]


async def test_service_status_needs_a_token(api: Api) -> None:
    body = await api.gql(STATUS, token=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_metrics_text_moves_with_ingest(api: Api, uid: str) -> None:
    await register(api, pressure_pump(uid))
    sensor = f"{uid}-pt"

    async def scrape() -> dict[str, float]:
        r = await api.client.get("/metrics", headers={"Authorization": f"Bearer {VIEWER}"})
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == CONTENT_TYPE
        return parse_metrics(r.text)[1]

    before = await scrape()
    await push(api, sensor, good=3)
    after = await eventually(
        scrape,
        done=lambda m: m["twinql_ingest_stored_total"] >= before["twinql_ingest_stored_total"] + 3,
        within=20,
        every=0.05,
    )
    assert after["twinql_ingest_stored_total"] >= before["twinql_ingest_stored_total"] + 3
    assert after["twinql_ingest_received_total"] >= before["twinql_ingest_received_total"] + 3
    assert after["twinql_live_bus_published_total"] >= before["twinql_live_bus_published_total"] + 1
    assert after["twinql_up"] == 1 and after["twinql_latest_cache_sensors"] >= 1
    for gauge in ("queue_depth", "lag_seconds", "spill_pending"):
        assert after[f"twinql_ingest_{gauge}"] >= 0
    states = {k: v for k, v in after.items() if k.startswith("twinql_connectors{")}
    assert set(states) == {
        f'twinql_connectors{{state="{s}"}}'
        for s in ("connected", "connecting", "disconnected", "error")
    }
    graphql = await status(api)
    assert sum(states.values()) == graphql["connectors"]["total"]
    assert after["twinql_simulation_slots"] == graphql["simulation"]["slots"]


async def test_metrics_auth(api: Api) -> None:
    anonymous = await api.client.get("/metrics")
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["error"]["code"] == "UNAUTHENTICATED"
    wrong = await api.client.get("/metrics", headers={"Authorization": "Bearer not-a-token"})
    assert wrong.status_code == 401
    ingest = await api.client.get("/metrics", headers={"Authorization": f"Bearer {INGEST}"})
    assert ingest.status_code == 200  # every role implies viewer
    # A deployment that allows anonymous reads serves /metrics without a token too.
    open_services = dataclasses.replace(
        api.services, settings=dataclasses.replace(api.services.settings, anonymous_read=True)
    )
    app = Starlette(routes=routes(open_services))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://status"
    ) as client:
        r = await client.get("/metrics")
        assert r.status_code == 200 and "twinql_ingest_received_total" in r.text
        bad = await client.get("/metrics", headers={"Authorization": "Bearer not-a-token"})
        assert bad.status_code == 401


def test_render_leaves_out_what_is_not_running() -> None:
    types, values = parse_metrics(render_metrics(StatusSnapshot(started=False)))
    assert values == {"twinql_up": 0.0} and types == {"twinql_up": "gauge"}
    stats = WriterStats(
        received=2**40,
        stored=7,
        rejected=1,
        spilled=0,
        replayed=0,
        queue_depth=3,
        lag_s=0.25,
        spill_pending=True,
        store_errors=2,
        dead_lettered=5,
        quarantined=1,
    )
    _, values = parse_metrics(render_metrics(StatusSnapshot(started=True, ingest=stats)))
    assert values["twinql_ingest_received_total"] == 2**40
    assert values["twinql_ingest_dead_lettered_total"] == 5
    assert values["twinql_ingest_quarantined_total"] == 1
    assert values["twinql_ingest_lag_seconds"] == 0.25
    assert values["twinql_ingest_spill_pending"] == 1
    assert "twinql_connectors" not in str(values)
