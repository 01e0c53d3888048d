"""writeSetpoint against a real Modbus device through the running app; audit; status."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest

from api.services.auth import Principal
from graph.bolt.commands import CommandStatus
from tests.support.app import Api
from tests.support.broker import Mosquitto
from tests.support.devices import ModbusDevice
from tests.support.plant import controlled_pump, register
from tests.support.polling import eventually
from tests.support.tokens import OPERATOR, VIEWER

UPSERT_SOURCE = """
mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id status { state } } }
"""
WRITE = """
mutation($id: ID!, $v: Float!, $r: String!) {
  writeSetpoint(actuatorId: $id, value: $v, reason: $r) {
    id status value confirmedValue requestedBy reason message sourceId completedAt
    actuator { id }
  }
}
"""
COMMANDS = """
query($id: ID!) { actuator(id: $id) { commands {
  id status value confirmedValue requestedBy reason requestedAt completedAt message
} } }
"""


def modbus_source(u: str, device: ModbusDevice) -> dict[str, Any]:
    return {
        "id": f"{u}-plc",
        "protocol": "MODBUS",
        "endpoint": f"{device.url}?unit=1&timeout=0.5&poll=0.05",
        "settings": {"reconnect_min_s": 0.1, "reconnect_max_s": 0.3},
        "sensorBindings": [
            {"sensorId": f"{u}-temp", "address": "hr:10", "dataType": "int16", "scale": 0.1}
        ],
        "actuatorBindings": [
            {"actuatorId": f"{u}-speed", "address": "hr:20", "dataType": "uint16"}
        ],
    }


@pytest.fixture
async def cleanup(api: Api) -> AsyncIterator[list[str]]:
    """Data sources to delete after the test (their connectors stop with them)."""
    ids: list[str] = []
    yield ids
    for sid in ids:
        await api.ok("mutation($id: ID!) { deleteDataSource(id: $id) { deletedIds } }", {"id": sid})


async def commands(api: Api, actuator: str) -> list[dict[str, Any]]:
    data = await api.ok(COMMANDS, {"id": actuator}, token=VIEWER)
    return data["actuator"]["commands"]


async def test_setpoint_reaches_the_modbus_register_and_is_audited(
    api: Api, uid: str, modbus_device: ModbusDevice, cleanup: list[str]
) -> None:
    await register(api, controlled_pump(uid))
    cleanup.append(f"{uid}-plc")
    await api.ok(UPSERT_SOURCE, {"s": modbus_source(uid, modbus_device)})
    data = await api.ok(
        WRITE, {"id": f"{uid}-speed", "v": 1450, "r": "ramp up for the night shift"}, token=OPERATOR
    )
    cmd = data["writeSetpoint"]
    assert cmd["status"] == "APPLIED", cmd
    assert cmd["confirmedValue"] == 1450
    assert (cmd["requestedBy"], cmd["sourceId"]) == ("olga", f"{uid}-plc")
    assert cmd["actuator"] == {"id": f"{uid}-speed"}
    assert await modbus_device.get("hr", 20) == [1450]

    (audited,) = await commands(api, f"{uid}-speed")
    assert audited["id"] == cmd["id"]
    assert audited["status"] == "APPLIED"
    assert (audited["value"], audited["confirmedValue"]) == (1450, 1450)
    assert audited["reason"] == "ramp up for the night shift"
    assert audited["requestedAt"] <= audited["completedAt"]

    one = await api.ok(
        "query($id: ID!) { setpointCommand(id: $id) { status actuatorId } }", {"id": cmd["id"]}
    )
    assert one["setpointCommand"] == {"status": "APPLIED", "actuatorId": f"{uid}-speed"}


async def test_data_source_status_is_visible(
    api: Api, uid: str, modbus_device: ModbusDevice, cleanup: list[str]
) -> None:
    await register(api, controlled_pump(uid))
    cleanup.append(f"{uid}-plc")
    await modbus_device.set("hr", 10, [215])
    await api.ok(UPSERT_SOURCE, {"s": modbus_source(uid, modbus_device)})
    query = (
        """query($id: ID!) {
      dataSourceStatus(id: $id) { state connected endpoint lastValueAt readings errors }
      dataSources { id status { state lastValueAt } }
      sensor(id: "%s-temp") { id }
    }"""
        % uid
    )
    for _ in range(100):
        data = await api.ok(query, {"id": f"{uid}-plc"}, token=VIEWER)
        status = data["dataSourceStatus"]
        if status["lastValueAt"] is not None:
            break
        await asyncio.sleep(0.05)
    assert status["state"] == "CONNECTED" and status["connected"] is True
    assert status["endpoint"].startswith(modbus_device.url)
    assert status["readings"] >= 1
    listed = {s["id"]: s["status"] for s in data["dataSources"]}
    assert listed[f"{uid}-plc"]["state"] == "CONNECTED"
    latest = await eventually(
        lambda: api.services.ingest.latest.get(f"{uid}-temp"), within=5, what="temp reading"
    )
    assert latest.value == 21.5


async def test_out_of_range_is_rejected_and_audited(api: Api, uid: str) -> None:
    await register(api, controlled_pump(uid))
    body = await api.gql(WRITE, {"id": f"{uid}-speed", "v": 5000, "r": "too fast"}, token=OPERATOR)
    (err,) = body["errors"]
    assert err["extensions"]["code"] == "VALIDATION"
    assert "outside its limits" in err["message"]
    (audited,) = await commands(api, f"{uid}-speed")
    assert audited["id"] == err["extensions"]["commandId"]
    assert (audited["status"], audited["value"]) == ("REJECTED", 5000)
    assert audited["completedAt"] is not None and "outside" in audited["message"]


async def test_unbound_actuator_fails_with_a_clear_error_and_is_audited(api: Api, uid: str) -> None:
    await register(api, controlled_pump(uid))
    body = await api.gql(WRITE, {"id": f"{uid}-valve", "v": 40, "r": "open"}, token=OPERATOR)
    (err,) = body["errors"]
    assert err["extensions"]["code"] == "VALIDATION"
    assert "no DRIVES binding" in err["message"]
    (audited,) = await commands(api, f"{uid}-valve")
    assert audited["status"] == "FAILED" and "no DRIVES binding" in audited["message"]


async def test_viewer_is_forbidden_and_unknown_actuator_is_not_found(api: Api, uid: str) -> None:
    await register(api, controlled_pump(uid))
    body = await api.gql(WRITE, {"id": f"{uid}-speed", "v": 10, "r": ""}, token=VIEWER)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    body = await api.gql(WRITE, {"id": f"{uid}-speed", "v": 10, "r": ""}, token=None)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    body = await api.gql(WRITE, {"id": f"{uid}-nope", "v": 10, "r": ""}, token=OPERATOR)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert await commands(api, f"{uid}-speed") == []


def mqtt_source(u: str, broker: Mosquitto) -> dict[str, Any]:
    return {
        "id": f"{u}-gw",
        "protocol": "MQTT",
        "endpoint": broker.url,
        "settings": {"ack_timeout_s": 60, "reconnect_min_s": 0.1, "reconnect_max_s": 0.3},
        "sensorBindings": [{"sensorId": f"{u}-temp", "address": "temp"}],
        "actuatorBindings": [{"actuatorId": f"{u}-speed", "address": "speed"}],
    }


async def test_a_write_interrupted_at_the_device_completes_failed_never_pending(
    api: Api, uid: str, mosquitto: Mosquitto, cleanup: list[str]
) -> None:
    """The device takes the command and goes silent (dropped mid-write); the caller gives
    up and its request is cancelled. The audit record still completes (FAILED, saying
    why) and the outcome is published; the cancellation goes on to the caller."""
    await register(api, controlled_pump(uid))
    cleanup.append(f"{uid}-gw")
    await api.ok(UPSERT_SOURCE, {"s": mqtt_source(uid, mosquitto)})
    manager = api.services.connectors
    assert manager is not None
    connector = manager.connector(f"{uid}-gw")
    assert connector is not None and await connector.wait_connected(5)
    received: list[dict[str, Any]] = []
    ready = asyncio.Event()

    async def silent_device() -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto.port) as client:
            await client.subscribe(f"assets/{uid}-pump/actuators/+/set", qos=1)
            ready.set()
            async for message in client.messages:
                received.append(json.loads(message.payload))  # and never answers

    device = asyncio.create_task(silent_device())
    try:
        await asyncio.wait_for(ready.wait(), 5)
        with manager.outcomes.subscribe(lambda c: c.actuator_id == f"{uid}-speed") as outcomes:
            write = asyncio.create_task(
                api.services.control.write_setpoint(
                    Principal("olga", "operator"), f"{uid}-speed", 1200, "night"
                )
            )
            await eventually(lambda: received, within=5)
            write.cancel()
            with pytest.raises(asyncio.CancelledError):
                await write
            async with asyncio.timeout(5):
                published = await outcomes.get()
    finally:
        device.cancel()
    assert published.status is CommandStatus.FAILED
    assert "cancelled before the device confirmed" in published.message
    (audited,) = await commands(api, f"{uid}-speed")
    assert audited["id"] == published.id
    assert audited["status"] == "FAILED" and audited["completedAt"] is not None
    assert "cancelled" in audited["message"]
    assert received[0]["value"] == 1200
