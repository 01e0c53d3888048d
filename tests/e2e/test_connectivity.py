"""End to end through a running app of its own (default MQTT broker, a scoped operator):
device values to GraphQL subscriptions over WebSocket, setpoint mutations to MQTT, OPC UA
and Modbus devices, asset events and dead letters, and live reconfiguration."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from api.app import create_app
from api.services.container import Services
from graph.bolt.embedded import EmbeddedGraphServer, free_port
from graph.timeutil import utcnow
from tests.support.app import Api, app_settings, served
from tests.support.devices import ModbusDevice, OpcUaDevice
from tests.support.plant import Plant, register
from tests.support.polling import eventually
from tests.support.wsclient import connect

U = "e2e" + uuid.uuid4().hex[:8]
ENGINEER = "e2e-engineer-token-0123456789"
OPERATOR = "e2e-operator-token-0123456789"
SCOPED = "e2e-scoped-operator-token-0123456789"
VIEWER = "e2e-viewer-token-0123456789"
FAST = {"reconnect_min_s": 0.1, "reconnect_max_s": 0.5}


@pytest.fixture(scope="module")
async def app(
    graph_server: EmbeddedGraphServer,
    tmp_path_factory: pytest.TempPathFactory,
    cypher_log: Path,
    mosquitto_url: str,
) -> AsyncIterator[Api]:
    port = free_port()
    settings = app_settings(
        graph_server,
        tmp_path_factory.mktemp("e2e-data"),
        port,
        f"{ENGINEER}:engineer:erin,{OPERATOR}:operator:olga,"
        f"{SCOPED}:operator:sam:{U}-lineA,{VIEWER}:viewer:vic",
        mqtt_url=mosquitto_url,
    )
    app = create_app(settings, record_statements_to=cypher_log)
    async with served(app, port) as base, httpx.AsyncClient(base_url=base, timeout=60) as client:
        services: Services = app.state.services
        api = Api(base=base, client=client, services=services)
        await register(api, plant(), token=ENGINEER)
        yield api
    assert services.connectors is not None and services.connectors.statuses() == {}


def plant() -> Plant:
    def asset(i: str, level: str, parent: str | None = None) -> dict[str, Any]:
        return {"id": f"{U}-{i}", "name": i, "type": i, "level": level, "parentId": parent}

    def sensor(i: str, a: str) -> dict[str, Any]:
        return {"id": f"{U}-{i}", "assetId": f"{U}-{a}", "name": i, "kind": i, "unit": "u"}

    def actuator(i: str, a: str) -> dict[str, Any]:
        return {
            "id": f"{U}-{i}",
            "assetId": f"{U}-{a}",
            "name": i,
            "unit": "rpm",
            "minValue": 0,
            "maxValue": 3000,
        }

    return Plant(
        assets=[
            asset("site", "SITE"),
            asset("lineA", "LINE", f"{U}-site"),
            asset("lineB", "LINE", f"{U}-site"),
            asset("pumpA", "EQUIPMENT", f"{U}-lineA"),
            asset("pumpB", "EQUIPMENT", f"{U}-lineB"),
            asset("pumpC", "EQUIPMENT", f"{U}-lineB"),
            asset("pumpD", "EQUIPMENT", f"{U}-lineB"),
        ],
        sensors=[sensor("tempA", "pumpA"), sensor("tempC", "pumpC"), sensor("tempD", "pumpD")],
        actuators=[
            actuator("speedA", "pumpA"),
            actuator("spareA", "pumpA"),
            actuator("speedB", "pumpB"),
            actuator("speedC", "pumpC"),
        ],
    )


UPSERT = "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id } }"
WRITE = """mutation($id: ID!, $v: Float!, $r: String!) {
  writeSetpoint(actuatorId: $id, value: $v, reason: $r) { id status confirmedValue message }
}"""
LIVE = """subscription($asset: ID!) {
  liveReadings(assetId: $asset) { readings { sensorId value } missed }
}"""


async def until_connected(api: Api, source: str) -> None:
    q = "query($id: ID!) { dataSourceStatus(id: $id) { state } }"

    async def connected() -> bool:
        data = await api.ok(q, {"id": source}, token=VIEWER)
        return (data["dataSourceStatus"] or {}).get("state") == "CONNECTED"

    await eventually(connected, within=10, every=0.05, what=f"{source} connected")


async def mqtt_source(api: Api) -> str:
    """The MQTT source of pumpA on the default broker (empty endpoint)."""
    sid = f"{U}-broker"
    await api.ok(
        UPSERT,
        {
            "s": {
                "id": sid,
                "protocol": "MQTT",
                "endpoint": "",
                "settings": {**FAST, "ack_timeout_s": 3},
                "sensorBindings": [{"sensorId": f"{U}-tempA", "address": "temp"}],
                "actuatorBindings": [{"actuatorId": f"{U}-speedA", "address": "speed"}],
            }
        },
        token=ENGINEER,
    )
    await until_connected(api, sid)
    return sid


def broker(url: str) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", int(url.rsplit(":", 1)[1]))


async def wait_subscribers(bus: Any, above: int) -> None:
    await eventually(lambda: bus.subscribers > above, within=5)


async def test_mqtt_value_reaches_a_websocket_subscriber(app: Api, mosquitto_url: str) -> None:
    await mqtt_source(app)
    async with connect(app.base, VIEWER) as ws:
        before = app.services.ingest.bus.subscribers
        await ws.subscribe(LIVE, {"asset": f"{U}-site"})
        await wait_subscribers(app.services.ingest.bus, before)
        async with broker(mosquitto_url) as device:
            await device.publish(f"assets/{U}-pumpA/sensors/temp/data", "21.5", qos=1)
        data = await ws.next()
    assert data["liveReadings"]["readings"] == [{"sensorId": f"{U}-tempA", "value": 21.5}]


async def test_mqtt_setpoint_is_acked_by_the_device_audited_and_published(
    app: Api, mosquitto_url: str
) -> None:
    await mqtt_source(app)
    got: list[dict[str, Any]] = []

    async def device(ready: asyncio.Event) -> None:
        async with broker(mosquitto_url) as c:
            await c.subscribe(f"assets/{U}-pumpA/actuators/speed/set", qos=1)
            ready.set()
            async for msg in c.messages:
                cmd = json.loads(msg.payload)  # type: ignore[arg-type]
                got.append(cmd)
                ack = {"correlation_id": cmd["correlation_id"], "ok": True, "value": cmd["value"]}
                await c.publish(f"assets/{U}-pumpA/actuators/speed/ack", json.dumps(ack), qos=1)
                return

    ready = asyncio.Event()
    dev = asyncio.create_task(device(ready))
    await ready.wait()
    outcomes = """subscription($a: ID!) { setpointOutcomes(assetId: $a) {
      missed command { status value confirmedValue requestedBy actuator { id } } } }"""
    async with connect(app.base, VIEWER) as ws:
        before = app.services.connectors.outcomes.subscribers  # type: ignore[union-attr]
        await ws.subscribe(outcomes, {"a": f"{U}-lineA"})
        await eventually(lambda: app.services.connectors.outcomes.subscribers > before, within=5)
        data = await app.ok(WRITE, {"id": f"{U}-speedA", "v": 1200, "r": "mqtt"}, token=OPERATOR)
        published = (await ws.next())["setpointOutcomes"]
    await dev
    assert data["writeSetpoint"]["status"] == "APPLIED", data
    assert data["writeSetpoint"]["confirmedValue"] == 1200
    assert got[0]["value"] == 1200
    assert published == {
        "missed": 0,
        "command": {
            "status": "APPLIED",
            "value": 1200,
            "confirmedValue": 1200,
            "requestedBy": "olga",
            "actuator": {"id": f"{U}-speedA"},
        },
    }
    audit = await app.ok(
        """query($id: ID!) { actuator(id: $id) { commands {
          status value confirmedValue requestedBy reason requestedAt completedAt } } }""",
        {"id": f"{U}-speedA"},
        token=VIEWER,
    )
    latest = audit["actuator"]["commands"][0]
    assert (latest["status"], latest["reason"], latest["requestedBy"]) == (
        "APPLIED",
        "mqtt",
        "olga",
    )
    assert latest["completedAt"] >= latest["requestedAt"]


async def test_opcua_setpoint_reaches_the_node(app: Api, opcua_device: OpcUaDevice) -> None:
    sid = f"{U}-opc"
    await app.ok(
        UPSERT,
        {
            "s": {
                "id": sid,
                "protocol": "OPCUA",
                "endpoint": opcua_device.url,
                "settings": FAST,
                "actuatorBindings": [
                    {
                        "actuatorId": f"{U}-speedB",
                        "address": opcua_device.node_id("pump-101.setpoint"),
                        "dataType": "double",
                    }
                ],
            }
        },
        token=ENGINEER,
    )
    try:
        await until_connected(app, sid)
        data = await app.ok(WRITE, {"id": f"{U}-speedB", "v": 875.5, "r": "opc"}, token=OPERATOR)
        assert data["writeSetpoint"]["status"] == "APPLIED", data
        assert data["writeSetpoint"]["confirmedValue"] == 875.5
        assert await opcua_device.read("pump-101.setpoint") == 875.5
    finally:
        await app.ok(
            "mutation($id: ID!) { deleteDataSource(id: $id) { deletedIds } }",
            {"id": sid},
            token=ENGINEER,
        )


async def test_operator_scoped_to_another_subtree_is_forbidden(app: Api) -> None:
    body = await app.gql(WRITE, {"id": f"{U}-speedB", "v": 10, "r": "x"}, token=SCOPED)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    # In scope (pumpA is below lineA): the checks pass; spareA has no binding.
    body = await app.gql(WRITE, {"id": f"{U}-spareA", "v": 10, "r": "x"}, token=SCOPED)
    assert body["errors"][0]["extensions"]["code"] == "VALIDATION"
    assert "no DRIVES binding" in body["errors"][0]["message"]
    body = await app.gql(WRITE, {"id": f"{U}-speedA", "v": 10, "r": "x"}, token=VIEWER)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_editing_a_data_source_reconfigures_the_running_connector(
    app: Api, modbus_device: ModbusDevice
) -> None:
    sid = f"{U}-plc"

    def source(address: str) -> dict[str, Any]:
        return {
            "id": sid,
            "protocol": "MODBUS",
            "endpoint": f"{modbus_device.url}?unit=1&timeout=0.5&poll=0.05",
            "settings": FAST,
            "sensorBindings": [{"sensorId": f"{U}-tempC", "address": address, "dataType": "int16"}],
            "actuatorBindings": [
                {"actuatorId": f"{U}-speedC", "address": "hr:50", "dataType": "uint16"}
            ],
        }

    await modbus_device.set("hr", 1, [111])
    await modbus_device.set("hr", 2, [222])
    await app.ok(UPSERT, {"s": source("hr:1")}, token=ENGINEER)
    try:
        async with connect(app.base, VIEWER) as ws:
            before = app.services.ingest.bus.subscribers
            await ws.subscribe(LIVE, {"asset": f"{U}-pumpC"})
            await wait_subscribers(app.services.ingest.bus, before)
            await until_connected(app, sid)
            async with asyncio.timeout(10):
                while True:
                    values = {r["value"] for r in (await ws.next())["liveReadings"]["readings"]}
                    if 111 in values:
                        break
            await app.ok(UPSERT, {"s": source("hr:2")}, token=ENGINEER)
            async with asyncio.timeout(10):
                while True:
                    values = {r["value"] for r in (await ws.next())["liveReadings"]["readings"]}
                    if 222 in values:
                        break
        data = await app.ok(WRITE, {"id": f"{U}-speedC", "v": 321, "r": "mb"}, token=OPERATOR)
        assert data["writeSetpoint"]["status"] == "APPLIED"
        assert await modbus_device.get("hr", 50) == [321]
    finally:
        await app.ok(
            "mutation($id: ID!) { deleteDataSource(id: $id) { deletedIds } }",
            {"id": sid},
            token=ENGINEER,
        )


async def test_asset_events_and_dead_letters_are_kept(app: Api, mosquitto_url: str) -> None:
    await mqtt_source(app)
    events = """subscription($a: ID!) { assetEvents(assetId: $a, kinds: ["alarm"]) {
      assetId kind data missed sourceId } }"""
    async with connect(app.base, VIEWER) as ws:
        manager = app.services.connectors
        assert manager is not None
        before = manager.events.subscribers
        await ws.subscribe(events, {"a": f"{U}-site"})
        await eventually(lambda: manager.events.subscribers > before, within=5)
        async with broker(mosquitto_url) as device:
            await device.publish(f"assets/{U}-pumpA/events/info", '{"n": 0}', qos=1)
            await device.publish(f"assets/{U}-pumpA/events/alarm", '{"code": 7}', qos=1)
            await device.publish(f"assets/{U}-pumpA/sensors/ghost/data", "9.75", qos=1)
        data = (await ws.next())["assetEvents"]
    assert data == {
        "assetId": f"{U}-pumpA",
        "kind": "alarm",
        "data": {"code": 7},
        "missed": 0,
        "sourceId": f"{U}-broker",
    }
    store = app.services.readings
    async with asyncio.timeout(10):
        while True:
            now = utcnow()
            kept = await store.events([f"{U}-pumpA"], now - timedelta(minutes=5), now)
            await app.services.ingest.writer.flush()
            rejected = [r for r in await store.rejected(limit=50) if r.raw == "9.75"]
            if len(kept) >= 2 and rejected:
                break
            await asyncio.sleep(0.05)
    assert sorted(e.kind for e in kept) == ["alarm", "info"]
    assert "ghost" in rejected[0].reason and rejected[0].asset_id == f"{U}-pumpA"
