"""MqttConnector against a real mosquitto broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import pytest

from graph.errors import Unavailable, ValidationError
from graph.model import ActuatorBinding, DataSource, Sensor, SensorBinding
from ingest.connectors import (
    AssetEvent,
    Bindings,
    ConnectorState,
    ConnectorStatus,
    DeadLetter,
)
from ingest.connectors.mqtt import MqttConnector
from ingest.connectors.mqtt_messages import ack_outcome
from ingest.connectors.mqtt_session import client_identifier
from ingest.connectors.settings import MqttSettings
from ingest.pipeline.validate import validate
from ingest.reading import Quality, RawReading
from tests.support.broker import Mosquitto, TlsMosquitto
from tests.support.net import TcpProxy
from tests.support.polling import eventually


class Collector:
    """Sinks that keep what they get, with waits that fail loudly on timeout."""

    def __init__(self) -> None:
        self.batches: list[list[RawReading]] = []
        self.letters: list[DeadLetter] = []
        self.events: list[AssetEvent] = []

    async def sink(self, batch: list[RawReading]) -> None:
        self.batches.append(batch)

    async def on_error(self, letter: DeadLetter) -> None:
        self.letters.append(letter)

    async def on_event(self, event: AssetEvent) -> None:
        self.events.append(event)

    @property
    def readings(self) -> list[RawReading]:
        return [r for b in self.batches for r in b]


class DurableSink:
    """A sink answering each batch with a future of durability the test resolves."""

    def __init__(self) -> None:
        self.readings: list[RawReading] = []
        self.durable: list[asyncio.Future[None]] = []

    async def sink(self, batch: list[RawReading]) -> asyncio.Future[None]:
        self.readings.extend(batch)
        self.durable.append(asyncio.get_running_loop().create_future())
        return self.durable[-1]

    def raw(self) -> list[str | None]:
        return [r.raw for r in self.readings]


def _uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _source(url: str, **settings: object) -> DataSource:
    settings.setdefault("reconnect_min_s", 0.1)
    settings.setdefault("reconnect_max_s", 0.5)
    return DataSource(id=_uid("broker"), protocol="mqtt", endpoint=url, settings=settings)


def _bindings(source: DataSource, asset: str) -> Bindings:
    return Bindings.of(
        sensors=[
            (SensorBinding(source.id, f"{asset}-temp", "temp", scale=0.1, offset=-10.0), asset),
            (SensorBinding(source.id, f"{asset}-flow", "flow_lpm"), asset),
        ],
        actuators=[(ActuatorBinding(source.id, f"{asset}-valve", "valve", scale=2.0), asset)],
    )


async def _publish(url: str, topic: str, payload: str) -> None:
    port = int(url.rsplit(":", 1)[1])
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.publish(topic, payload, qos=1)


@pytest.fixture
async def rig(mosquitto_url: str) -> AsyncIterator[tuple[MqttConnector, Collector, str, str]]:
    source = _source(mosquitto_url, ack_timeout_s=1.0)
    asset = _uid("pump")
    got = Collector()
    connector = MqttConnector(
        source, _bindings(source, asset), got.sink, on_error=got.on_error, on_event=got.on_event
    )
    async with connector:
        assert await connector.wait_connected(5)
        yield connector, got, asset, mosquitto_url


async def test_data_topic_values_are_scaled_with_source_timestamp_and_quality(rig) -> None:  # noqa: ANN001
    connector, got, asset, url = rig
    base = f"assets/{asset}/sensors"
    await _publish(url, f"{base}/{asset}-temp/data", "250")
    await _publish(
        url,
        f"{base}/{asset}-temp/data",
        json.dumps({"value": 300, "timestamp": 1714564800000, "quality": "uncertain"}),
    )
    # the binding's address also names the sensor in the topic
    await _publish(
        url, f"{base}/flow_lpm/data", '[{"value": 1.5}, {"value": 2.5, "unit": "l/min"}]'
    )
    await eventually(lambda: len(got.readings) == 4)
    first, second, third, fourth = got.readings
    assert (first.sensor_id, first.value, first.asset_id) == (f"{asset}-temp", 15.0, asset)
    assert first.source == connector.source.id and first.raw == "250"
    assert second.value == pytest.approx(20.0)
    assert second.timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert second.quality is Quality.SUSPECT
    assert [third.value, fourth.value, fourth.unit] == [1.5, 2.5, "l/min"]
    assert len(got.batches) == 3  # one batch per message
    status = connector.status()
    assert status.state is ConnectorState.CONNECTED
    assert status.readings == 4 and status.last_value_at is not None


async def test_telemetry_picks_bound_fields_and_reports_the_rest(rig) -> None:  # noqa: ANN001
    connector, got, asset, url = rig
    topic = f"assets/{asset}/telemetry"
    await _publish(
        url,
        topic,
        json.dumps({"timestamp": "2024-05-01T12:00:00Z", "values": {"temp": 200, "flow_lpm": 7}}),
    )
    await _publish(url, topic, json.dumps({"flow_lpm": 8, "vibration": 0.3}))
    await eventually(lambda: len(got.readings) == 3 and len(got.letters) == 1)
    by_sensor = {(r.sensor_id, r.value) for r in got.readings}
    assert by_sensor == {(f"{asset}-temp", 10.0), (f"{asset}-flow", 7), (f"{asset}-flow", 8)}
    assert got.readings[0].timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    (letter,) = got.letters
    assert "vibration" in letter.reason and letter.raw == json.dumps(
        {"flow_lpm": 8, "vibration": 0.3}
    )
    assert letter.asset_id == asset and connector.status().errors == 1


async def test_bad_payloads_keep_their_raw_text(rig) -> None:  # noqa: ANN001
    connector, got, asset, url = rig
    await _publish(url, f"assets/{asset}/sensors/{asset}-temp/data", "twelve{")
    await _publish(url, f"assets/{asset}/telemetry", "not json at all")
    await _publish(url, f"assets/{asset}/sensors/ghost/data", "1")
    await eventually(lambda: len(got.readings) == 1 and len(got.letters) == 2)
    (bad,) = got.readings
    assert bad.value == "twelve{" and bad.raw == "twelve{"  # validation will reject it
    assert "not JSON" in str(bad.metadata["error"])
    reasons = sorted(letter.reason for letter in got.letters)
    assert "not bound" in reasons[1] and "JSON" in reasons[0]
    assert {letter.raw for letter in got.letters} == {"not json at all", "1"}
    assert connector.status().state is ConnectorState.CONNECTED  # still alive
    await _publish(url, f"assets/{asset}/sensors/{asset}-temp/data", "100")
    await eventually(lambda: len(got.readings) == 2)


async def test_events_reach_the_event_sink(rig) -> None:  # noqa: ANN001
    _, got, asset, url = rig
    await _publish(url, f"assets/{asset}/events/trip", '{"timestamp": 1714564800000, "code": 7}')
    await eventually(lambda: len(got.events) == 1)
    (event,) = got.events
    assert (event.asset_id, event.kind) == (asset, "trip")
    assert event.timestamp == datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert json.loads(event.payload)["code"] == 7


async def test_setpoint_is_published_and_acknowledged(rig) -> None:  # noqa: ANN001
    connector, _, asset, url = rig
    port = int(url.rsplit(":", 1)[1])
    commands: list[dict[str, object]] = []
    ready = asyncio.Event()

    async def device() -> None:
        async with aiomqtt.Client("127.0.0.1", port) as client:
            await client.subscribe(f"assets/{asset}/actuators/+/set", qos=1)
            ready.set()
            async for message in client.messages:
                command = json.loads(message.payload)
                commands.append(command)
                ack = {
                    "correlation_id": command["correlation_id"],
                    "ok": True,
                    "value": command["value"],
                }
                await client.publish(
                    str(message.topic).replace("/set", "/ack"), json.dumps(ack), qos=1
                )

    task = asyncio.create_task(device())
    try:
        await asyncio.wait_for(ready.wait(), 3)
        binding = connector.bindings.actuators[0]
        outcome = await connector.write(binding, 42.0)
        assert outcome.ok, outcome.message
        assert outcome.confirmed_value == pytest.approx(42.0)
        assert commands[0]["value"] == pytest.approx(21.0)  # raw = value / scale
        with pytest.raises(ValidationError):
            await connector.write(binding, float("nan"))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task  # the device is gone before the next write
    # nobody answers now: the write is not confirmed, and says why
    outcome = await connector.write(connector.bindings.actuators[0], 1.0)
    assert not outcome.ok and "no ack" in outcome.message
    status = connector.status()
    assert (status.writes, status.write_failures) == (2, 1)


async def test_reconnects_and_resubscribes_after_broker_restart(
    mosquitto_factory: Mosquitto,
) -> None:
    broker = mosquitto_factory
    source = _source(broker.url)
    asset = _uid("pump")
    got = Collector()
    async with MqttConnector(
        source, _bindings(source, asset), got.sink, on_error=got.on_error
    ) as c:
        assert await c.wait_connected(5)
        topic = f"assets/{asset}/sensors/{asset}-flow/data"
        await _publish(broker.url, topic, "1")
        await eventually(lambda: len(got.readings) == 1)
        broker.stop()
        await eventually(lambda: c.status().state is not ConnectorState.CONNECTED)
        assert c.status().last_error is not None
        broker.start()
        assert await c.wait_connected(5)
        await _publish(broker.url, topic, "2")
        await eventually(lambda: len(got.readings) == 2)
        assert [r.value for r in got.readings] == [1, 2]
        assert c.status().reconnects >= 1
    assert c.status().state is ConnectorState.DISCONNECTED
    assert not [t for t in asyncio.all_tasks() if t.get_name() == f"connector:{source.id}"]


async def test_shared_subscription_splits_messages_between_instances(mosquitto_url: str) -> None:
    group = _uid("g")
    source = _source(mosquitto_url, shared_group=group)
    asset = _uid("pump")
    bindings = _bindings(source, asset)
    a, b = Collector(), Collector()
    async with (  # two twinql processes: two instance ids, so two client ids
        MqttConnector(source, bindings, a.sink, on_error=a.on_error, instance_id="a") as ca,
        MqttConnector(source, bindings, b.sink, on_error=b.on_error, instance_id="b") as cb,
    ):
        assert ca.client_id != cb.client_id
        assert await ca.wait_connected(5) and await cb.wait_connected(5)
        port = int(mosquitto_url.rsplit(":", 1)[1])
        async with aiomqtt.Client("127.0.0.1", port) as client:
            for i in range(20):
                await client.publish(f"assets/{asset}/sensors/{asset}-flow/data", str(i), qos=1)
        await eventually(lambda: len(a.readings) + len(b.readings) == 20)
    values = sorted(r.value for r in a.readings + b.readings)
    assert values == list(range(20))  # each message once, across the two instances
    assert a.readings and b.readings


async def test_misconfiguration_is_a_validation_error(mosquitto_url: str) -> None:
    bad = DataSource(id="b1", protocol="mqtt", endpoint="http://x", settings={})
    with pytest.raises(ValidationError, match="endpoint"):
        MqttConnector(bad, Bindings(), Collector().sink)
    other = DataSource(id="b2", protocol="mqtt", endpoint=mosquitto_url)
    with pytest.raises(ValidationError, match="data source"):
        MqttConnector(other, _bindings(_source(mosquitto_url), "p"), Collector().sink)


BOMB = "[" * 200_000 + "]" * 200_000  # valid JSON nesting far beyond the recursion limit


async def test_one_bad_message_never_stops_the_connector(rig) -> None:  # noqa: ANN001
    connector, got, asset, url = rig
    await _publish(url, f"assets/{asset}/events/trip", BOMB)
    await _publish(url, f"assets/{asset}/actuators/valve/ack", BOMB)
    await _publish(url, f"assets/{asset}/actuators/valve/ack", '{"ok": true}')
    await _publish(url, f"assets/{asset}/telemetry", BOMB)
    await _publish(url, f"assets/{asset}/sensors/{asset}-temp/data", BOMB)
    await _publish(url, f"assets/{asset}/sensors/{asset}-temp/data", "250")
    await eventually(lambda: any(r.value == 15.0 for r in got.readings), within=5)
    letters = sorted((letter.reason, letter.topic or "", letter.raw) for letter in got.letters)
    assert letters == [
        ("ack without a correlation_id", f"assets/{asset}/actuators/valve/ack", BOMB),
        ("ack without a correlation_id", f"assets/{asset}/actuators/valve/ack", '{"ok": true}'),
        ("event JSON nests too deep", f"assets/{asset}/events/trip", BOMB),
        (letters[3][0], f"assets/{asset}/telemetry", BOMB),
    ]
    assert "not JSON" in letters[3][0]
    (bomb_reading,) = [r for r in got.readings if r.raw == BOMB]  # attributable: a bad reading
    assert "not JSON" in str(bomb_reading.metadata["error"])
    assert not got.events
    status = connector.status()
    assert status.state is ConnectorState.CONNECTED and status.restarts == 0


async def test_a_failing_handler_turns_the_message_into_a_dead_letter(mosquitto_url: str) -> None:
    source = _source(mosquitto_url)
    asset = _uid("pump")
    got = Collector()

    async def on_event(event: AssetEvent) -> None:
        if event.kind == "boom":
            raise RuntimeError("event store exploded")
        await got.on_event(event)

    async with MqttConnector(
        source, _bindings(source, asset), got.sink, on_error=got.on_error, on_event=on_event
    ) as connector:
        assert await connector.wait_connected(5)
        await _publish(mosquitto_url, f"assets/{asset}/events/boom", '{"code": 1}')
        await _publish(mosquitto_url, f"assets/{asset}/events/fine", '{"code": 2}')
        await _publish(mosquitto_url, f"assets/{asset}/sensors/{asset}-flow/data", "3")
        await eventually(lambda: len(got.readings) == 1 and len(got.events) == 1)
        (letter,) = got.letters
        assert letter.raw == '{"code": 1}' and "event store exploded" in letter.reason
        assert letter.topic == f"assets/{asset}/events/boom"
        assert connector.status().state is ConnectorState.CONNECTED
        assert connector.status().restarts == 0


async def _flood_a_slow_connector(
    mosquitto_url: str, queue: int, n: int, *, stall: bool
) -> tuple[Collector, ConnectorStatus]:
    """Publish ``n`` QoS 1 readings at a connector whose queue holds ``queue`` messages
    and whose sink is stuck until everything is published (``stall``) or slow."""
    source = _source(mosquitto_url, max_queued_messages=queue)
    asset = _uid("pump")
    got = Collector()
    release = asyncio.Event()

    async def slow_sink(batch: list[RawReading]) -> None:
        if stall:
            await release.wait()
        else:
            await asyncio.sleep(0.001)
        await got.sink(batch)

    async with MqttConnector(
        source, _bindings(source, asset), slow_sink, on_error=got.on_error
    ) as connector:
        assert await connector.wait_connected(5)
        port = int(mosquitto_url.rsplit(":", 1)[1])
        async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=100) as client:
            client.pending_calls_threshold = 200
            topic = f"assets/{asset}/sensors/{asset}-flow/data"
            window = asyncio.Semaphore(100)

            async def one(i: int) -> None:
                async with window:
                    await client.publish(topic, str(i), qos=1)

            await asyncio.gather(*(one(i) for i in range(n)))
        release.set()
        await eventually(lambda: len(got.readings) + len(got.letters) >= n, within=60)
        await asyncio.sleep(0.2)  # nothing more arrives (no duplicates)
        status = connector.status()
    return got, status


async def test_a_full_queue_pauses_reading_and_nothing_is_dropped(mosquitto_url: str) -> None:
    """A stuck sink, a queue of 2 and 300 messages: reading pauses, the messages wait on
    the broker, and every one becomes a reading exactly once when the sink moves."""
    got, status = await _flood_a_slow_connector(mosquitto_url, 2, 300, stall=True)
    assert sorted(r.value for r in got.readings) == list(range(300))
    assert got.letters == [] and status.overflows == 0
    assert status.pauses >= 1


async def test_a_flood_on_a_slow_sink_is_held_on_the_broker(mosquitto_url: str) -> None:
    """3,000 messages flat out against a sink taking ~1 ms a message and a queue of 25:
    without backpressure Mosquitto outruns its in-flight window once acks flow and most
    of them would overflow; with reading paused, all arrive as readings, in order."""
    got, status = await _flood_a_slow_connector(mosquitto_url, 25, 3000, stall=False)
    values = [r.value for r in got.readings]
    assert sorted(values) == list(range(3000)) and got.letters == []
    assert status.overflows == 0 and status.pauses >= 1


@pytest.fixture
async def proxied(mosquitto: Mosquitto) -> AsyncIterator[TcpProxy]:
    proxy = TcpProxy(mosquitto.port)
    await proxy.start()
    yield proxy
    await proxy.cut()


@pytest.mark.parametrize("version", ["3.1.1", "5"])
async def test_qos1_messages_sent_while_the_connection_was_down_arrive_after_it(
    proxied: TcpProxy, mosquitto_url: str, version: str
) -> None:
    source = _source(proxied.url("mqtt"), mqtt_version=version)
    asset = _uid("pump")
    got = Collector()
    topic = f"assets/{asset}/sensors/{asset}-flow/data"
    async with MqttConnector(
        source, _bindings(source, asset), got.sink, on_error=got.on_error
    ) as c:
        assert await c.wait_connected(5)
        await _publish(mosquitto_url, topic, "0")
        await eventually(lambda: len(got.readings) == 1)
        await proxied.cut()  # the broker stays up; only twinql's network session goes
        await eventually(lambda: c.status().state is not ConnectorState.CONNECTED)
        for i in range(1, 6):
            await _publish(mosquitto_url, topic, str(i))
        await asyncio.sleep(0.3)
        await proxied.start()
        assert await c.wait_connected(5)
        await eventually(lambda: {r.value for r in got.readings} == set(range(6)), within=5)
        await asyncio.sleep(0.1)
        values = [r.value for r in got.readings]
        # at least once: "0" comes again when its ack was still on the way at the cut
        assert values in ([0, 1, 2, 3, 4, 5], [0, 0, 1, 2, 3, 4, 5]), values
        assert c.status().reconnects >= 1 and not got.letters


@pytest.mark.parametrize("version", ["3.1.1", "5"])
async def test_the_first_connection_is_clean_and_reconfigure_resumes(
    mosquitto_url: str, version: str
) -> None:
    source = _source(mosquitto_url, mqtt_version=version)
    asset, other = _uid("pump"), _uid("pump")
    got = Collector()
    async with MqttConnector(source, _bindings(source, asset), got.sink, on_error=got.on_error):
        pass  # leaves a persistent session subscribed to the asset's topics
    await _publish(mosquitto_url, f"assets/{asset}/sensors/{asset}-flow/data", "1")
    connector = MqttConnector(source, _bindings(source, other), got.sink, on_error=got.on_error)
    async with connector:  # same client id, new connector: starts clean
        assert await connector.wait_connected(5)
        await _publish(mosquitto_url, f"assets/{other}/sensors/{other}-flow/data", "2")
        await eventually(lambda: len(got.readings) == 1)
        assert got.readings[0].value == 2 and not got.letters

        await connector.reconfigure(_bindings(source, asset))  # resumes, drops other's filters
        assert await connector.wait_connected(5)
        await _publish(mosquitto_url, f"assets/{other}/sensors/{other}-flow/data", "3")
        await _publish(mosquitto_url, f"assets/{asset}/sensors/{asset}-flow/data", "4")
        await eventually(lambda: len(got.readings) == 2)
        await asyncio.sleep(0.2)
    assert [r.value for r in got.readings] == [2, 4] and not got.letters


@pytest.mark.parametrize("version", ["3.1.1", "5"])
async def test_a_new_connector_resumes_the_session_its_memo_describes(
    mosquitto_url: str, version: str, tmp_path: Path
) -> None:
    """What a crashed or stopped process left on the broker is taken up by the next one:
    messages published while no connector ran arrive; the filters of bindings that are
    gone are unsubscribed (nothing arrives for them); without a memo it starts clean."""
    source = _source(mosquitto_url, mqtt_version=version)
    asset, other = _uid("pump"), _uid("pump")
    got = Collector()
    memo = tmp_path / "sessions"

    def connector(asset_id: str, session_dir: Path | None = memo) -> MqttConnector:
        return MqttConnector(
            source,
            _bindings(source, asset_id),
            got.sink,
            on_error=got.on_error,
            session_dir=session_dir,
        )

    first = connector(asset)
    async with first:
        assert await first.wait_connected(5)
    (saved,) = memo.iterdir()
    assert json.loads(saved.read_text())["filters"], saved.read_text()
    for v in (1, 2, 3):  # nobody connected: the broker queues them for the session
        await _publish(mosquitto_url, f"assets/{asset}/sensors/{asset}-flow/data", str(v))
    second = connector(asset)
    async with second:
        await eventually(lambda: len(got.readings), done=lambda n: n == 3, what="queued")
    assert [r.value for r in got.readings] == [1, 2, 3] and not got.letters

    await _publish(mosquitto_url, f"assets/{asset}/sensors/{asset}-flow/data", "4")
    third = connector(other)  # the bindings moved: the old filters are dropped on resume
    async with third:
        # "4", queued for a binding that is gone, is kept as a dead letter, not lost
        await eventually(lambda: len(got.letters), done=lambda n: n == 1, what="4 kept")
        await _publish(mosquitto_url, f"assets/{asset}/sensors/{asset}-flow/data", "5")
        await _publish(mosquitto_url, f"assets/{other}/sensors/{other}-flow/data", "6")
        await eventually(lambda: len(got.readings), done=lambda n: n == 4, what="6")
        await asyncio.sleep(0.2)
    assert [r.value for r in got.readings] == [1, 2, 3, 6]
    (letter,) = got.letters
    assert letter.raw == "4" and asset in (letter.topic or ""), letter

    await _publish(mosquitto_url, f"assets/{other}/sensors/{other}-flow/data", "7")
    await third.forget_session()  # the data source was deleted
    assert list(memo.iterdir()) == []
    fourth = connector(other)
    async with fourth:  # no memo: clean start, "7" is dropped with the old session
        assert await fourth.wait_connected(5)
        await _publish(mosquitto_url, f"assets/{other}/sensors/{other}-flow/data", "8")
        await eventually(lambda: len(got.readings), done=lambda n: n == 5, what="8")
        await asyncio.sleep(0.2)
    assert [r.value for r in got.readings][-1] == 8 and len(got.readings) == 5


async def test_a_memo_of_another_broker_or_unreadable_starts_clean(
    mosquitto_url: str, tmp_path: Path
) -> None:
    source = _source(mosquitto_url)
    asset = _uid("pump")
    got = Collector()
    memo = tmp_path / "sessions"
    c = MqttConnector(source, _bindings(source, asset), got.sink, session_dir=memo)
    async with c:
        assert await c.wait_connected(5)
    (saved,) = memo.iterdir()
    doc = json.loads(saved.read_text())
    for body in (json.dumps({**doc, "broker": "elsewhere:1883"}), "{not json"):
        await _publish(mosquitto_url, f"assets/{asset}/sensors/{asset}-flow/data", "1")
        saved.write_text(body)
        c = MqttConnector(source, _bindings(source, asset), got.sink, session_dir=memo)
        async with c:
            assert await c.wait_connected(5)
            await asyncio.sleep(0.3)
        assert got.readings == []  # dropped with the session it could not vouch for
        assert json.loads(saved.read_text()) == doc  # rewritten for this broker


def test_client_ids_are_stable_per_source_and_instance() -> None:
    assert client_identifier("broker-1", "host-a") == "twinql-host-a-broker-1"
    assert client_identifier("broker-1", "host-a") == client_identifier("broker-1", "host-a")
    assert client_identifier("broker-1", "host-a") != client_identifier("broker-1", "host-b")
    assert client_identifier("b 1/#", "h") == "twinql-h-b_1__"
    long = client_identifier("x" * 200, "h")
    assert len(long) == 64 and long != client_identifier("x" * 199, "h")
    assert client_identifier("broker-1", "host-a", "explicit-id") == "explicit-id"


@pytest.mark.parametrize(
    ("ack", "ok", "confirmed", "says"),
    [
        ({"ok": True, "value": 21.0}, True, 42.0, "acknowledged"),
        ({"ok": True, "value": 21.0, "message": "applied"}, True, 42.0, "applied"),
        ({"ok": True, "value": 20.0}, False, 40.0, "device applied 40, requested 42"),
        ({"value": 21.0}, False, 42.0, "without a boolean 'ok'"),
        ({"ok": "yes", "value": 21.0}, False, 42.0, "without a boolean 'ok'"),
        ({"ok": True}, False, None, "without a finite applied 'value'"),
        ({"ok": True, "value": True}, False, None, "without a finite applied 'value'"),
        ({"ok": True, "value": 10**400}, False, None, "a huge integer"),
        ({"ok": False, "message": "interlock"}, False, None, "device refused: interlock"),
        ({"ok": False}, False, None, "no reason given"),
    ],
)
def test_ack_outcome_confirms_like_a_read_back(
    ack: dict[str, object], ok: bool, confirmed: float | None, says: str
) -> None:
    binding = ActuatorBinding("b", "valve", "valve", scale=2.0)
    outcome = ack_outcome(ack, binding, 42.0)
    assert (outcome.ok, outcome.confirmed_value) == (ok, confirmed)
    assert says in outcome.message
    assert ack_outcome({"ok": True, "value": 21.0000001}, binding, 42.0).ok  # within 1e-6
    assert not ack_outcome({"ok": True, "value": 21.0000001}, binding, 42.0, 1e-9).ok


async def test_a_device_applying_another_value_is_not_confirmed(rig) -> None:  # noqa: ANN001
    connector, _, asset, url = rig
    port = int(url.rsplit(":", 1)[1])
    ready = asyncio.Event()

    async def clamping_device() -> None:
        async with aiomqtt.Client("127.0.0.1", port) as client:
            await client.subscribe(f"assets/{asset}/actuators/+/set", qos=1)
            ready.set()
            async for message in client.messages:
                command = json.loads(message.payload)
                ack = {"correlation_id": command["correlation_id"], "ok": True}
                if command["value"] <= 30:  # applied as asked
                    ack["value"] = command["value"]
                else:  # clamped at its limit, and says ok anyway
                    ack["value"] = 30
                await client.publish(
                    str(message.topic).replace("/set", "/ack"), json.dumps(ack), qos=1
                )

    task = asyncio.create_task(clamping_device())
    try:
        await asyncio.wait_for(ready.wait(), 3)
        binding = connector.bindings.actuators[0]
        assert (await connector.write(binding, 40.0)).ok  # raw 20
        outcome = await connector.write(binding, 80.0)  # raw 40, clamped to 30 -> 60
        assert not outcome.ok and outcome.confirmed_value == 60.0
        assert "device applied 60, requested 80" in outcome.message
    finally:
        task.cancel()
    assert connector.status().write_failures == 1


@pytest.fixture(scope="module")
def tls_broker() -> Iterator[TlsMosquitto]:
    broker = TlsMosquitto()
    broker.start()
    yield broker
    broker.close()


def _tls_source(broker: TlsMosquitto, **settings: object) -> DataSource:
    return _source(broker.url, tls_ca_file=str(broker.tls.ca), **settings)


async def test_mqtts_with_a_private_ca_and_a_client_certificate(tls_broker: TlsMosquitto) -> None:
    tls = tls_broker.tls
    source = _tls_source(
        tls_broker, tls_cert_file=str(tls.client_cert), tls_key_file=str(tls.client_key)
    )
    asset, got = _uid("pump"), Collector()
    async with MqttConnector(source, _bindings(source, asset), got.sink) as connector:
        assert await connector.wait_connected(5), connector.status().last_error
        context = MqttSettings.from_source(source).ssl_context()
        async with aiomqtt.Client("127.0.0.1", tls_broker.port, tls_context=context) as pub:
            await pub.publish(f"assets/{asset}/sensors/{asset}-flow/data", "4.5", qos=1)
        await eventually(lambda: len(got.readings) == 1)
    assert (got.readings[0].sensor_id, got.readings[0].value) == (f"{asset}-flow", 4.5)


async def test_mqtts_without_the_client_certificate_or_the_ca_is_refused(
    tls_broker: TlsMosquitto,
) -> None:
    no_cert, system_cas = _tls_source(tls_broker), _source(tls_broker.url)
    # TLS 1.3: a missing client certificate is refused after the handshake, and the
    # client sees only its CONNACK time out; an unknown CA fails the handshake itself.
    for source, says in ((no_cert, "timed out"), (system_cas, "CERTIFICATE_VERIFY_FAILED")):
        source.settings["ack_timeout_s"] = 1.0
        got = Collector()
        async with MqttConnector(source, Bindings(), got.sink) as connector:
            await eventually(lambda c=connector: c.status().errors >= 1, within=10)
            status = connector.status()
            assert status.state is ConnectorState.ERROR and status.connected_since is None
            assert says in (status.last_error or ""), status.last_error


def test_tls_settings_are_checked(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not used")
    cases = [
        ("mqtt://127.0.0.1:1883", {"tls_ca_file": str(ca)}, "needs an mqtts"),
        ("mqtts://127.0.0.1", {"tls_ca_file": str(tmp_path / "none.pem")}, "no such file"),
        ("mqtts://127.0.0.1", {"tls_key_file": str(ca)}, "need tls_cert_file"),
    ]
    for endpoint, settings, message in cases:
        source = DataSource(id="b", protocol="mqtt", endpoint=endpoint, settings=settings)
        with pytest.raises(ValidationError, match=message):
            MqttSettings.from_source(source)
    plain = MqttSettings.from_source(DataSource(id="b", protocol="mqtt", endpoint="mqtts://h"))
    assert plain.port == 8883 and plain.ssl_context() is not None


async def test_a_message_is_acknowledged_only_once_its_readings_are_durable(
    mosquitto_url: str,
) -> None:
    """The sink answers with a future of durability. While it is pending nothing is
    acknowledged; when it fails (the pipeline could not make the readings durable) the
    connector drops the connection without a PUBACK and the broker delivers the message
    again on the resumed session; once durable, it is acknowledged and never comes back."""
    source = _source(mosquitto_url)
    asset = _uid("pump")
    got = DurableSink()
    durable = got.durable
    connector = MqttConnector(source, _bindings(source, asset), got.sink)
    topic = f"assets/{asset}/sensors/{asset}-temp/data"
    async with connector:
        assert await connector.wait_connected(5)
        await _publish(mosquitto_url, topic, "250")
        await eventually(lambda: len(durable) == 1, within=10, what="the first delivery")
        durable[0].set_exception(Unavailable("the disk is full"))
        await eventually(lambda: len(durable) == 2, within=20, what="the broker sends it again")
        assert got.raw() == ["250", "250"] and connector.status().reconnects >= 1
        durable[1].set_result(None)
        await _publish(mosquitto_url, topic, "260")
        await eventually(lambda: len(durable) == 3, within=10, what="the next message")
        assert got.raw() == ["250", "250", "260"]  # the first, acknowledged, did not come back
        durable[2].set_result(None)


async def test_a_message_sent_again_keeps_its_first_arrival_time(mosquitto_url: str) -> None:
    """A message the broker sends again (no PUBACK reached it: here the readings could
    not be made durable) carries the time it first arrived, so its timestamp-less
    readings are the same (sensor, ts) rows and its dead letters the same ids: stored
    once. A new message with the same payload is a new reading."""
    source = _source(mosquitto_url)
    asset = _uid("pump")
    got = DurableSink()
    seen, durable = got.readings, got.durable
    connector = MqttConnector(source, _bindings(source, asset), got.sink)
    topic = f"assets/{asset}/sensors/{asset}-temp/data"
    async with connector:
        assert await connector.wait_connected(5)
        await _publish(mosquitto_url, topic, '[250, "abc"]')
        await eventually(lambda: len(durable) == 1, within=10, what="the first delivery")
        durable[0].set_exception(Unavailable("the disk is full"))
        await eventually(lambda: len(durable) == 2, within=20, what="the broker sends it again")
        durable[1].set_result(None)
        await asyncio.sleep(0.01)  # a new message, a new arrival time
        await _publish(mosquitto_url, topic, '[250, "abc"]')
        await eventually(lambda: len(durable) == 3, within=10, what="the same payload again")
        durable[2].set_result(None)
    first, again, new = seen[0:2], seen[2:4], seen[4:6]
    assert [r.timestamp for r in seen] == [None] * 6
    assert [r.received_at for r in again] == [r.received_at for r in first]
    assert new[0].received_at is not None and first[0].received_at is not None
    assert new[0].received_at > first[0].received_at
    sensors = {f"{asset}-temp": Sensor(f"{asset}-temp", asset, "temp", "temperature", "°C")}
    now = datetime.now(UTC)
    letters = [validate(b, sensors, now, max_future_us=10**9).rejected for b in (first, again, new)]
    assert [len(x) for x in letters] == [1, 1, 1]  # "abc": non-numeric
    assert letters[0][0].id == letters[1][0].id != letters[2][0].id
