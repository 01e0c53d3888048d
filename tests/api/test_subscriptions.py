"""Subscriptions over real WebSockets (graphql-transport-ws and graphql-ws) on the running app."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from api.live.schema import live_messages
from graph.timeutil import utcnow
from ingest.connectors import AssetEvent
from ingest.pipeline import LiveBus
from ingest.reading import Quality, RawReading
from ingest.store import ReadingBatch
from tests.support.app import Api
from tests.support.plant import controlled_pump, register
from tests.support.polling import eventually
from tests.support.tokens import ADMIN, VIEWER
from tests.support.wsclient import LEGACY_WS, TRANSPORT_WS, Rejected, connect

LIVE = """subscription($ids: [ID!], $asset: ID, $throttle: Int, $band: Float) {
  liveReadings(sensorIds: $ids, assetId: $asset, throttleMs: $throttle, deadband: $band) {
    readings { sensorId assetId value quality timestamp } missed missedReadings
  }
}"""


async def ingest(api: Api, sensor: str, asset: str, *values: float) -> None:
    """One pipeline batch per value (what a device connector hands over)."""
    now = utcnow()
    for i, v in enumerate(values):
        ts = now + timedelta(milliseconds=i)
        await api.services.ingest.ingest([RawReading(sensor, v, ts, asset_id=asset)])


async def subscribed(api: Api, before: int) -> None:
    """Wait until the server registered the subscription on the live bus."""
    await eventually(lambda: api.services.ingest.bus.subscribers > before, within=5)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_websocket_without_a_valid_token_is_refused(api: Api, protocol: str) -> None:
    for token in (None, "not-a-known-token-at-all"):
        with pytest.raises(Rejected):
            async with connect(api.base, token, protocol) as ws:
                await ws.subscribe(LIVE, {"ids": ["x"]})
                await ws.next(within=2)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
async def test_live_readings_of_sensors_and_of_an_asset_subtree(
    api: Api, uid: str, protocol: str
) -> None:
    await register(api, controlled_pump(uid))
    sensor, asset = f"{uid}-temp", f"{uid}-pump"
    async with connect(api.base, VIEWER, protocol) as ws:
        before = api.services.ingest.bus.subscribers
        await ws.subscribe(LIVE, {"ids": [sensor]})
        await ws.subscribe(LIVE, {"asset": f"{uid}-line"})  # the pump is below the line
        await subscribed(api, before + 1)
        await ingest(api, sensor, asset, 42.5)
        got = [await ws.next(), await ws.next()]
    for data in got:
        (r,) = data["liveReadings"]["readings"]
        assert (r["sensorId"], r["assetId"], r["value"], r["quality"]) == (
            sensor,
            asset,
            42.5,
            "good",
        )
        assert data["liveReadings"]["missed"] == 0


BATCHES = """subscription($ids: [ID!], $asset: ID, $band: Float) {
  liveReadingBatches(sensorIds: $ids, assetId: $asset, deadband: $band) {
    sensorIds assetIds timestamps values qualities missed missedReadings
  }
}"""


async def test_live_reading_batches_carry_the_same_readings_as_columns(api: Api, uid: str) -> None:
    """One pipeline batch of three readings (one missing) arrives as one message of
    parallel lists, equal to what liveReadings sends for the same batch."""
    await register(api, controlled_pump(uid))
    temp, asset = f"{uid}-temp", f"{uid}-pump"
    now = utcnow().replace(microsecond=123456)
    raws = [
        RawReading(temp, 20.5, now, asset_id=asset),
        RawReading(
            temp, None, now + timedelta(milliseconds=1), asset_id=asset, quality=Quality.MISSING
        ),
        RawReading(temp, 21.0, now + timedelta(milliseconds=2), asset_id=asset),
    ]
    async with connect(api.base, VIEWER) as ws:
        before = api.services.ingest.bus.subscribers
        await ws.subscribe(BATCHES, {"asset": f"{uid}-line"})
        await ws.subscribe(LIVE, {"ids": [temp]})
        await subscribed(api, before + 1)
        result = await api.services.ingest.ingest(raws)
        assert result.accepted == 3, result
        got = [await ws.next(), await ws.next()]
    (cols,) = [g["liveReadingBatches"] for g in got if "liveReadingBatches" in g]
    (rows,) = [g["liveReadings"] for g in got if "liveReadings" in g]
    assert cols["sensorIds"] == [temp] * 3 and cols["assetIds"] == [asset] * 3
    assert cols["values"] == [20.5, None, 21.0]
    assert cols["qualities"] == ["good", "missing", "good"]
    assert (cols["missed"], cols["missedReadings"]) == (0, 0)
    assert cols["timestamps"][0] == now.isoformat()
    assert [
        {"sensorId": s, "assetId": a, "value": v, "quality": q, "timestamp": t}
        for s, a, v, q, t in zip(
            cols["sensorIds"],
            cols["assetIds"],
            cols["values"],
            cols["qualities"],
            cols["timestamps"],
            strict=True,
        )
    ] == rows["readings"]


async def test_deadband_and_throttle_thin_the_stream(api: Api, uid: str) -> None:
    await register(api, controlled_pump(uid))
    sensor, asset = f"{uid}-temp", f"{uid}-pump"
    async with connect(api.base, ADMIN) as ws:
        before = api.services.ingest.bus.subscribers
        await ws.subscribe(LIVE, {"ids": [sensor], "band": 1.0})
        await subscribed(api, before)
        await ingest(api, sensor, asset, 10.0, 10.5, 11.2, 11.3, 13.0)
        values: list[float] = []
        while len(values) < 3:  # a message holds what arrived since the previous one
            values += [r["value"] for r in (await ws.next())["liveReadings"]["readings"]]
        assert values == [10.0, 11.2, 13.0]

    async with connect(api.base, ADMIN) as ws:
        before = api.services.ingest.bus.subscribers
        await ws.subscribe(LIVE, {"ids": [sensor], "throttle": 400})
        await subscribed(api, before)
        await ingest(api, sensor, asset, 1.0, 2.0, 3.0, 4.0, 5.0)
        first = (await ws.next())["liveReadings"]["readings"]
        second = (await ws.next())["liveReadings"]["readings"]
    assert [r["value"] for r in first] == [1.0]
    assert [r["value"] for r in second] == [5.0]  # the newest of the interval


async def test_subscription_errors_are_coded(api: Api, uid: str) -> None:
    async with connect(api.base, VIEWER) as ws:
        await ws.subscribe(LIVE, {"asset": f"{uid}-nowhere"})
        (err,) = await ws.error()
        assert err["extensions"]["code"] == "NOT_FOUND"
        await ws.subscribe(LIVE, {})
        (err,) = await ws.error()
        assert err["extensions"]["code"] == "VALIDATION"


def _batch(sensor: str, value: float) -> ReadingBatch:
    return ReadingBatch.from_columns([1_700_000_000_000_000], [sensor], ["a"], [value], ["good"])


async def test_a_slow_subscriber_is_told_what_it_missed() -> None:
    bus = LiveBus()
    sub = bus.subscribe(["s"], maxsize=2)
    other = bus.subscribe(["s"], maxsize=100)
    for i in range(10):
        bus.publish(_batch("s", float(i)))  # never waits for the slow one
    stream = live_messages(sub)
    first = await anext(stream)  # the marker, and what is queued, in one message
    assert (first.missed, first.missed_readings) == (8, 8)
    assert [r.value for r in first.readings] == [8.0, 9.0]
    fast = live_messages(other)
    caught_up = await anext(fast)  # ten batches queued: one message catches up
    assert [r.value for r in caught_up.readings] == [float(i) for i in range(10)]
    assert caught_up.missed == 0
    sub.close()
    bus.publish(_batch("s", 10.0))
    assert [r.value for r in (await anext(fast)).readings] == [10.0]  # kept up: one batch
    other.close()
    assert [m async for m in stream] == []


SENSOR = "mutation($s: [SensorInput!]!) { upsertSensors(sensors: $s) { id } }"
ASSETS = "mutation($a: [AssetInput!]!) { upsertAssets(assets: $a) { id } }"


async def next_from(ws, sensor: str, api: Api, asset: str, value: float) -> dict:  # noqa: ANN001
    """Ingest ``value`` for ``sensor`` every 0.1 s until the subscription sends it (the
    scope follows the registry within about a second); the message that came."""
    async with asyncio.timeout(10):
        while True:
            await ingest(api, sensor, asset, value)
            try:
                return (await ws.next(within=0.1))["liveReadings"]
            except TimeoutError:
                continue


async def test_an_asset_subscription_follows_the_registry(api: Api, uid: str) -> None:
    """A sensor registered below the asset after the subscription started joins its
    stream; an asset moved out of the subtree leaves it."""
    await register(api, controlled_pump(uid))
    line, pump, temp = f"{uid}-line", f"{uid}-pump", f"{uid}-temp"
    async with connect(api.base, VIEWER) as ws:
        before = api.services.ingest.bus.subscribers
        await ws.subscribe(LIVE, {"asset": line})
        await subscribed(api, before)
        new = {"id": f"{uid}-flow", "assetId": pump, "name": "Flow", "kind": "flow",
               "unit": "m3/h", "minValue": 0, "maxValue": 500}  # fmt: skip
        await api.ok(SENSOR, {"s": [new]})
        got = await next_from(ws, f"{uid}-flow", api, pump, 12.5)
        assert [(r["sensorId"], r["value"]) for r in got["readings"]] == [(f"{uid}-flow", 12.5)]

        other = {"id": f"{uid}-line2", "name": "Line 2", "type": "line", "level": "LINE"}
        moved = {"id": pump, "name": "Pump", "type": "pump", "level": "EQUIPMENT",
                 "parentId": f"{uid}-line2"}  # fmt: skip
        await api.ok(ASSETS, {"a": [other, moved]})
        await asyncio.sleep(1.5)  # the refresh delay, and then some
        await ingest(api, temp, pump, 99.0)  # the pump is on line 2 now: not for us
        with pytest.raises(TimeoutError):
            await ws.next(within=0.5)
        back = {**moved, "parentId": line}
        await api.ok(ASSETS, {"a": [back]})
        got = await next_from(ws, temp, api, pump, 7.0)
        assert {r["value"] for r in got["readings"]} == {7.0}


async def test_an_asset_event_subscription_follows_the_subtree(api: Api, uid: str) -> None:
    await register(api, controlled_pump(uid))
    manager = api.services.connectors
    assert manager is not None
    query = "subscription($a: ID!) { assetEvents(assetId: $a) { assetId kind payload } }"
    async with connect(api.base, VIEWER) as ws:
        before = manager.events.subscribers
        await ws.subscribe(query, {"a": f"{uid}-line"})
        await eventually(lambda: manager.events.subscribers > before, within=5)
        valve = {"id": f"{uid}-valve9", "name": "Valve", "type": "valve",
                 "level": "EQUIPMENT", "parentId": f"{uid}-line"}  # fmt: skip
        await api.ok(ASSETS, {"a": [valve]})
        async with asyncio.timeout(10):
            while True:  # the event fan-out the MQTT connector publishes to
                manager.events.publish(AssetEvent("src", f"{uid}-valve9", "alarm", '{"hi": 1}'))
                try:
                    data = (await ws.next(within=0.1))["assetEvents"]
                    break
                except TimeoutError:
                    continue
    assert (data["assetId"], data["kind"], data["payload"]) == (
        f"{uid}-valve9",
        "alarm",
        '{"hi": 1}',
    )
