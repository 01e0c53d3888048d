"""The Python examples of docs/integrator.md, run as written against the real app: the
subscription client connects with a token, subscribes, and yields a reading posted to
/ingest; the MQTT publisher's telemetry reaches the sensors bound to its fields through a
real broker."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

from tests.support.app import Api
from tests.support.broker import Mosquitto
from tests.support.tokens import ADMIN, INGEST

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integrator.md"


def _example(function: str) -> Any:
    """The guide's function ``function``, from the one Python block that defines it."""
    (source,) = [
        b for b in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S)
        if f"async def {function}(" in b
    ]  # fmt: skip
    namespace: dict[str, Any] = {"__name__": "integrator_example"}
    exec(compile(source, str(GUIDE), "exec"), namespace)  # the guide's code, unchanged
    return namespace[function]


def test_every_python_example_compiles() -> None:
    for source in re.findall(r"```python\n(.*?)```", GUIDE.read_text(encoding="utf-8"), re.S):
        compile(source, str(GUIDE), "exec")


async def test_the_guide_client_receives_live_readings(api: Api, uid: str) -> None:
    await api.ok(
        """mutation($a: [AssetInput!]!, $s: [SensorInput!]!) {
             upsertAssets(assets: $a) { id } upsertSensors(sensors: $s) { id } }""",
        {
            "a": [{"id": f"{uid}-pump", "name": "Pump", "type": "pump", "level": "EQUIPMENT"}],
            "s": [{"id": f"{uid}-pump.flow", "assetId": f"{uid}-pump", "name": "Flow",
                   "kind": "flow", "unit": "m3/h", "minValue": 0, "maxValue": 400}],
        },
    )  # fmt: skip
    subscribe = _example("subscribe")
    url = api.base.replace("http://", "ws://") + "/graphql"
    query = """subscription($asset: ID!) {
      liveReadings(assetId: $asset) { readings { sensorId value quality } missed }
    }"""
    stream = subscribe(url, ADMIN, query, {"asset": f"{uid}-pump"})
    first = asyncio.ensure_future(stream.__anext__())
    got: dict[str, Any] | None = None
    for _ in range(100):  # post until the subscription, started meanwhile, sees one
        r = await api.client.post(
            "/ingest",
            json=[{"sensor_id": f"{uid}-pump.flow", "value": 151.2, "unit": "m3/h"}],
            headers={"Authorization": f"Bearer {INGEST}"},
        )
        assert r.json()["accepted"] == 1
        done, _ = await asyncio.wait({first}, timeout=0.2)
        if done:
            got = first.result()
            break
    assert got is not None, "the guide's client received nothing"
    (reading,) = got["liveReadings"]["readings"][:1]
    assert reading == {"sensorId": f"{uid}-pump.flow", "value": 151.2, "quality": "good"}
    await stream.aclose()


async def test_the_guide_mqtt_publisher_feeds_bound_sensors(
    api: Api, uid: str, mosquitto: Mosquitto
) -> None:
    zone = f"{uid}-zone"
    await api.ok(
        """mutation($a: [AssetInput!]!, $s: [SensorInput!]!) {
             upsertAssets(assets: $a) { id } upsertSensors(sensors: $s) { id } }""",
        {
            "a": [{"id": zone, "name": "Zone", "type": "hvac_zone", "level": "UNIT"}],
            "s": [
                {"id": f"{zone}.temperature", "assetId": zone, "name": "Temperature",
                 "kind": "temperature", "unit": "°C", "minValue": -20, "maxValue": 60},
                {"id": f"{zone}.humidity", "assetId": zone, "name": "Humidity",
                 "kind": "humidity", "unit": "%", "minValue": 0, "maxValue": 100},
            ],
        },
    )  # fmt: skip
    source = {
        "id": f"{uid}-gw",
        "protocol": "MQTT",
        "endpoint": mosquitto.url,
        "settings": {"reconnect_min_s": 0.1, "reconnect_max_s": 0.3},
        "sensorBindings": [  # as the example plant binds zone-1: address = telemetry field
            {"sensorId": f"{zone}.temperature", "address": "temperature"},
            {"sensorId": f"{zone}.humidity", "address": "humidity"},
        ],
    }
    await api.ok(
        "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id } }", {"s": source}
    )
    try:
        status = "query($id: ID!) { dataSourceStatus(id: $id) { state } }"
        for _ in range(200):
            got = await api.ok(status, {"id": f"{uid}-gw"})
            if got["dataSourceStatus"]["state"] == "CONNECTED":
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"the connector did not connect: {got}")
        await _example("publish_telemetry")(zone, "127.0.0.1", mosquitto.port)
        latest = "query($ids: [ID!]!) { sensors(ids: $ids) { id latest { value timestamp } } }"
        ids = [f"{zone}.temperature", f"{zone}.humidity"]
        for _ in range(200):
            sensors = (await api.ok(latest, {"ids": ids}))["sensors"]
            if all(s["latest"] for s in sensors):
                break
            await asyncio.sleep(0.05)
        assert [(s["latest"] or {}).get("value") for s in sensors] == [21.4, 41.0], sensors
        assert sensors[0]["latest"]["timestamp"].startswith("2026-01-05T08:00:00")
    finally:
        await api.ok(
            "mutation($id: ID!) { deleteDataSource(id: $id) { deletedIds } }", {"id": f"{uid}-gw"}
        )
