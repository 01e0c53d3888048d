"""ConnectorManager against the real graph, a DuckDB-backed pipeline and real devices."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import aiomqtt
import pytest

from graph.bolt.repository import GraphRepository
from graph.bolt.sources import SourceConfig
from graph.errors import ValidationError
from graph.model import Actuator, ActuatorBinding, Asset, DataSource, Sensor, SensorBinding
from graph.timeutil import utcnow
from ingest.connectors import AssetEvent, ConnectorState
from ingest.connectors.modbus_codec import ModbusType, encode_values
from ingest.manager import ConnectorManager, Fanout, ManagerSettings
from ingest.pipeline import IngestPipeline, Missed, PipelineSettings
from ingest.reading import RawReading
from ingest.store import ReadingBatch, ReadingsStore, RejectedRow, StoreSettings, open_store
from tests.support.devices import ModbusDevice
from tests.support.net import free_port
from tests.support.polling import eventually

FAST = {"reconnect_min_s": 0.1, "reconnect_max_s": 0.3}


class OnlyMine:
    """The graph's data sources, restricted to this test's ids (the graph is shared)."""

    def __init__(self, repo: GraphRepository, prefix: str) -> None:
        self.repo = repo
        self.prefix = prefix

    async def configs(self, source_ids: Iterable[str] | None = None) -> list[SourceConfig]:
        found = await self.repo.sources.configs(source_ids)
        return [c for c in found if c.source.id.startswith(self.prefix)]


class GraphCatalog:
    def __init__(self, repo: GraphRepository) -> None:
        self.repo = repo

    async def get_many(self, ids: Iterable[str]) -> dict[str, Sensor]:
        return await self.repo.devices.sensors(ids)


@dataclass
class Rig:
    repo: GraphRepository
    uid: str
    store: ReadingsStore
    pipeline: IngestPipeline
    manager: ConnectorManager

    @property
    def asset(self) -> str:
        return f"{self.uid}-pump"

    def latest(self, sensor: str) -> float | None:
        v = self.pipeline.latest.get(f"{self.uid}-{sensor}")
        return None if v is None else v.value


async def _store_pump(repo: GraphRepository, uid: str) -> None:
    asset = f"{uid}-pump"
    await repo.assets.upsert([Asset(asset, "Pump", "pump", "equipment")])
    await repo.devices.upsert_sensors(
        [
            Sensor(f"{uid}-temp", asset, "temp", "temperature", "degC", -50, 500),
            Sensor(f"{uid}-flow", asset, "flow", "flow", "m3/h", 0, 1000),
        ]
    )
    await repo.devices.upsert_actuators([Actuator(f"{uid}-speed", asset, "speed", "rpm", 0, 3000)])


@pytest.fixture
async def rig(repo: GraphRepository, uid: str, tmp_path: Path) -> AsyncIterator[Rig]:
    await _store_pump(repo, uid)
    store = await open_store(StoreSettings(path=tmp_path / "r.duckdb", threads=1))
    pipeline = IngestPipeline(
        store,
        GraphCatalog(repo),
        PipelineSettings(spill_dir=tmp_path / "spill", flush_interval=0.05),
    )
    await pipeline.start()

    async def sink(raws: list[RawReading]) -> None:
        await pipeline.ingest(raws)

    async def reject(rows: list[RejectedRow]) -> None:
        await pipeline.writer.submit(ReadingBatch.empty(), rows)

    manager = ConnectorManager(
        OnlyMine(repo, uid),
        sink,
        reject=reject,
        store_events=store.write_events,
        settings=ManagerSettings(event_flush_s=0.02),
    )
    try:
        yield Rig(repo, uid, store, pipeline, manager)
    finally:
        await manager.aclose()
        await pipeline.aclose()
        await store.aclose()


def _regs(value: float, dtype: str = "float32") -> list[int]:
    return encode_values([value], ModbusType.parse(dtype)).reshape(-1).tolist()


def _modbus(rig: Rig, device: ModbusDevice, name: str = "plc") -> DataSource:
    return DataSource(
        f"{rig.uid}-{name}", "modbus", f"{device.url}?unit=1&timeout=0.5&poll=0.05", settings=FAST
    )


async def test_modbus_source_feeds_the_pipeline_and_takes_setpoints(
    rig: Rig, modbus_device: ModbusDevice
) -> None:
    src = _modbus(rig, modbus_device)
    await rig.repo.sources.upsert(
        [src],
        [SensorBinding(src.id, f"{rig.uid}-temp", "hr:10", scale=0.1, data_type="int16")],
        [ActuatorBinding(src.id, f"{rig.uid}-speed", "hr:20", data_type="uint16")],
    )
    await modbus_device.set("hr", 10, [235])
    report = await rig.manager.start()
    assert report.started == (src.id,)
    await eventually(lambda: rig.latest("temp") == pytest.approx(23.5))
    status = rig.manager.status(src.id)
    assert status is not None and status.state is ConnectorState.CONNECTED
    assert status.last_value_at is not None and status.readings >= 1

    binding = await rig.repo.sources.binding_of_actuator(f"{rig.uid}-speed")
    assert binding is not None
    outcome = await rig.manager.write(binding, 1450.0)
    assert outcome.ok, outcome.message
    assert outcome.confirmed_value == 1450.0
    assert await modbus_device.get("hr", 20) == [1450]
    assert rig.manager.status(src.id).writes == 1  # type: ignore[union-attr]


async def test_reconcile_follows_edits_of_sources_and_bindings(
    rig: Rig, modbus_device: ModbusDevice
) -> None:
    src = _modbus(rig, modbus_device)
    temp = f"{rig.uid}-temp"
    await rig.repo.sources.upsert([src], [SensorBinding(src.id, temp, "hr:1", data_type="int16")])
    await modbus_device.set("hr", 1, [11])
    await modbus_device.set("hr", 2, [22])
    await rig.manager.start()
    await eventually(lambda: rig.latest("temp") == 11.0)
    first = rig.manager.connector(src.id)

    # Same device, new address: the running connector is reconfigured, not replaced.
    await rig.repo.sources.upsert([], [SensorBinding(src.id, temp, "hr:2", data_type="int16")])
    report = await rig.manager.reconcile()
    assert report.reconfigured == (src.id,)
    assert rig.manager.connector(src.id) is first
    await eventually(lambda: rig.latest("temp") == 22.0)

    # Nothing changed: nothing happens.
    assert await rig.manager.reconcile() == type(report)()

    # New endpoint: a new connector to the other device.
    other = ModbusDevice()
    await other.start()
    try:
        await other.set("hr", 2, [33])
        moved = DataSource(
            src.id, "modbus", f"{other.url}?unit=1&timeout=0.5&poll=0.05", settings=FAST
        )
        await rig.repo.sources.upsert([moved])
        report = await rig.manager.reconcile()
        assert report.restarted == (src.id,)
        assert rig.manager.connector(src.id) is not first
        await eventually(lambda: rig.latest("temp") == 33.0)
    finally:
        await other.stop()

    await rig.repo.sources.delete(src.id)
    report = await rig.manager.reconcile()
    assert report.stopped == (src.id,)
    assert rig.manager.status(src.id) is None


async def test_sources_whose_devices_are_down_or_malformed_never_break_the_manager(
    rig: Rig,
) -> None:
    dead = free_port()
    sources = [
        DataSource(
            f"{rig.uid}-plc", "modbus", f"modbus://127.0.0.1:{dead}?timeout=0.2", settings=FAST
        ),
        DataSource(f"{rig.uid}-opc", "opcua", f"opc.tcp://127.0.0.1:{dead}/x", settings=FAST),
        DataSource(f"{rig.uid}-mq", "mqtt", f"mqtt://127.0.0.1:{dead}", settings=FAST),
        DataSource(f"{rig.uid}-nobroker", "mqtt", "", settings=FAST),  # no default broker
        DataSource(f"{rig.uid}-bad", "modbus", "http://nowhere", settings=FAST),
        DataSource(f"{rig.uid}-http", "http", ""),
    ]
    await rig.repo.sources.upsert(
        sources, [SensorBinding(f"{rig.uid}-plc", f"{rig.uid}-temp", "hr:1")]
    )
    report = await rig.manager.start()
    assert set(report.started) == {f"{rig.uid}-plc", f"{rig.uid}-opc", f"{rig.uid}-mq"}
    assert set(report.failed) == {f"{rig.uid}-nobroker", f"{rig.uid}-bad"}
    for sid in ("plc", "opc", "mq"):
        await eventually(
            lambda sid=sid: rig.manager.status(f"{rig.uid}-{sid}").last_error is not None  # type: ignore[union-attr]
        )
        status = rig.manager.status(f"{rig.uid}-{sid}")
        assert status is not None
        assert status.state in (ConnectorState.CONNECTING, ConnectorState.ERROR)
    nobroker = rig.manager.status(f"{rig.uid}-nobroker")
    assert nobroker is not None and nobroker.state is ConnectorState.ERROR
    assert "TWINQL_MQTT_URL" in (nobroker.last_error or "")
    bad = rig.manager.status(f"{rig.uid}-bad")
    assert bad is not None and "endpoint" in (bad.last_error or "")
    assert rig.manager.status(f"{rig.uid}-http") is None

    binding = ActuatorBinding(f"{rig.uid}-bad", f"{rig.uid}-speed", "hr:1")
    outcome = await rig.manager.write(binding, 1.0)
    assert not outcome.ok and "no running connector" in outcome.message

    async with asyncio.timeout(10):  # hang guard: stopping retrying connectors is prompt
        await rig.manager.aclose()
    assert rig.manager.statuses() == {}


async def test_mqtt_default_broker_dead_letters_and_events_are_kept(
    repo: GraphRepository, uid: str, tmp_path: Path, mosquitto_url: str
) -> None:
    await _store_pump(repo, uid)
    store = await open_store(StoreSettings(path=tmp_path / "r.duckdb", threads=1))
    pipeline = IngestPipeline(
        store,
        GraphCatalog(repo),
        PipelineSettings(spill_dir=tmp_path / "spill", flush_interval=0.05),
    )
    await pipeline.start()

    async def sink(raws: list[RawReading]) -> None:
        await pipeline.ingest(raws)

    async def reject(rows: list[RejectedRow]) -> None:
        await pipeline.writer.submit(ReadingBatch.empty(), rows)

    manager = ConnectorManager(
        OnlyMine(repo, uid),
        sink,
        reject=reject,
        store_events=store.write_events,
        settings=ManagerSettings(default_mqtt_url=mosquitto_url, event_flush_s=0.02),
    )
    asset = f"{uid}-pump"
    src = DataSource(f"{uid}-broker", "mqtt", "", settings=FAST)
    await repo.sources.upsert([src], [SensorBinding(src.id, f"{uid}-temp", "temp")])
    try:
        await manager.start()
        status = manager.status(src.id)
        assert status is not None and status.endpoint == mosquitto_url
        connector = manager.connector(src.id)
        assert connector is not None and await connector.wait_connected(5)
        with manager.events.subscribe(lambda e: e.asset_id == asset) as events:
            async with aiomqtt.Client("127.0.0.1", int(mosquitto_url.rsplit(":", 1)[1])) as c:
                await c.publish(f"assets/{asset}/sensors/temp/data", "21.5", qos=1)
                await c.publish(f"assets/{asset}/sensors/ghost/data", "1.0", qos=1)
                await c.publish(f"assets/{asset}/sensors/temp/data", "not a number", qos=1)
                await c.publish(f"assets/{asset}/events/alarm", json.dumps({"code": 7}), qos=1)
            async with asyncio.timeout(5):
                event = await events.get()
        assert isinstance(event, AssetEvent)
        assert (event.kind, json.loads(event.payload)) == ("alarm", {"code": 7})

        await eventually(
            lambda: manager.counters.events_stored >= 1 and manager.counters.dead_letters >= 1,
            within=5,
            what="an event stored and a dead letter",
        )
        await pipeline.writer.flush()
        assert pipeline.latest.get(f"{uid}-temp").value == 21.5  # type: ignore[union-attr]
        rejected = await store.rejected(limit=10)
        reasons = " | ".join(r.reason for r in rejected)
        assert any(r.raw == "1.0" and "ghost" in r.reason for r in rejected), reasons
        assert any(r.raw == "not a number" for r in rejected), reasons
        now = utcnow()
        stored = await store.events([asset], now - timedelta(minutes=1), now + timedelta(minutes=1))
        assert [(e.kind, json.loads(e.payload)) for e in stored] == [("alarm", {"code": 7})]
    finally:
        await manager.aclose()
        await pipeline.aclose()
        await store.aclose()


async def test_fanout_is_bounded_and_reports_missed_items() -> None:
    hub: Fanout[int] = Fanout(default_maxsize=3)
    slow = hub.subscribe()
    odd = hub.subscribe(lambda i: i % 2 == 1, maxsize=10)
    for i in range(10):
        hub.publish(i)  # never waits for anyone
    assert await slow.get() == Missed(7, 7)
    assert [await slow.get() for _ in range(3)] == [7, 8, 9]
    assert [await odd.get() for _ in range(5)] == [1, 3, 5, 7, 9]
    hub.close()
    assert [i async for i in odd] == []
    assert hub.subscribers == 0


class FlakyEvents:
    """The real DuckDB store's ``write_events`` behind a fault switch (fault injection;
    the store, the broker and the pipeline are real)."""

    def __init__(self, store: ReadingsStore) -> None:
        self.store = store
        self.failures: list[Exception] = []  # raised by the next calls, in order
        self.always: Exception | None = None
        self.delay_s = 0.0
        self.calls = 0

    async def __call__(self, rows) -> int:  # noqa: ANN001
        self.calls += 1
        await asyncio.sleep(self.delay_s)
        if self.always is not None:
            raise self.always
        if self.failures:
            raise self.failures.pop(0)
        return await self.store.write_events(rows)


async def _event_rig(
    repo: GraphRepository, uid: str, tmp_path: Path, mosquitto_url: str
) -> tuple[ReadingsStore, IngestPipeline, ConnectorManager, FlakyEvents, DataSource]:
    await _store_pump(repo, uid)
    store = await open_store(StoreSettings(path=tmp_path / "r.duckdb", threads=1))
    pipeline = IngestPipeline(
        store, GraphCatalog(repo), PipelineSettings(spill_dir=tmp_path / "spill")
    )
    await pipeline.start()

    async def sink(raws: list[RawReading]) -> None:
        await pipeline.ingest(raws)

    async def reject(rows: list[RejectedRow]) -> None:
        await pipeline.writer.submit(ReadingBatch.empty(), rows)

    events = FlakyEvents(store)
    manager = ConnectorManager(
        OnlyMine(repo, uid),
        sink,
        reject=reject,
        store_events=events,
        settings=ManagerSettings(
            default_mqtt_url=mosquitto_url, event_flush_s=0.02, close_timeout_s=2.0
        ),
    )
    src = DataSource(f"{uid}-broker", "mqtt", "", settings=FAST)
    await repo.sources.upsert([src], [SensorBinding(src.id, f"{uid}-temp", "temp")])
    return store, pipeline, manager, events, src


async def _start_connected(manager: ConnectorManager, source_id: str) -> None:
    await manager.start()
    connector = manager.connector(source_id)
    assert connector is not None and await connector.wait_connected(5)


async def _publish_events(url: str, asset: str, codes: Iterable[int]) -> None:
    async with aiomqtt.Client("127.0.0.1", int(url.rsplit(":", 1)[1])) as c:
        for code in codes:
            await c.publish(f"assets/{asset}/events/alarm", json.dumps({"code": code}), qos=1)


async def test_asset_events_survive_store_errors_and_shutdown(
    repo: GraphRepository, uid: str, tmp_path: Path, mosquitto_url: str
) -> None:
    store, pipeline, manager, events, src = await _event_rig(repo, uid, tmp_path, mosquitto_url)
    asset = f"{uid}-pump"
    try:
        await _start_connected(manager, src.id)
        # not a TwinqlError: it used to end the writer task unnoticed
        events.failures = [RuntimeError("disk hiccup"), OSError("disk full")]
        await _publish_events(mosquitto_url, asset, [1, 2])
        await eventually(lambda: manager.counters.events_stored, done=lambda n: n >= 2, within=5)
        assert manager.counters.event_store_errors == 2

        events.delay_s = 0.5  # slow store: these are in flight when shutdown starts
        await _publish_events(mosquitto_url, asset, [3, 4, 5])
        await eventually(lambda: manager.counters.events, done=lambda n: n >= 5, within=5)
        await manager.aclose()
        assert manager.counters.events_stored == 5
        now = utcnow()
        stored = await store.events([asset], now - timedelta(minutes=1), now + timedelta(minutes=1))
        assert sorted(json.loads(e.payload)["code"] for e in stored) == [1, 2, 3, 4, 5]
    finally:
        await manager.aclose()
        await pipeline.aclose()
        await store.aclose()


async def test_asset_events_the_store_refuses_at_shutdown_become_dead_letters(
    repo: GraphRepository, uid: str, tmp_path: Path, mosquitto_url: str
) -> None:
    store, pipeline, manager, events, src = await _event_rig(repo, uid, tmp_path, mosquitto_url)
    asset = f"{uid}-pump"
    try:
        await _start_connected(manager, src.id)
        events.always = ConnectionError("event store unreachable")
        await _publish_events(mosquitto_url, asset, [7, 8])
        await eventually(
            lambda: manager.counters.event_store_errors >= 1 and manager.counters.events >= 2,
            within=5,
            what="a store error and 2 events",
        )
        await manager.aclose()
        await pipeline.writer.flush()
        rejected = [r for r in await store.rejected(limit=50) if r.asset_id == asset]
        assert sorted(json.loads(r.raw)["code"] for r in rejected) == [7, 8]
        assert all("not stored at shutdown" in r.reason for r in rejected)
        assert "event store unreachable" in rejected[0].reason
        assert manager.counters.events_stored == 0
    finally:
        await manager.aclose()
        await pipeline.aclose()
        await store.aclose()


async def test_a_source_added_elsewhere_is_picked_up_by_the_periodic_resync(
    rig: Rig, modbus_device: ModbusDevice
) -> None:
    """Another twinql instance (or ``twinql load``) writes a data source into the shared
    graph: this manager hears of no change, and its resync still starts the connector."""

    async def sink(raws: list[RawReading]) -> None:
        await rig.pipeline.ingest(raws)

    async def reject(rows: list[RejectedRow]) -> None:
        await rig.pipeline.writer.submit(ReadingBatch.empty(), rows)

    manager = ConnectorManager(
        OnlyMine(rig.repo, rig.uid),
        sink,
        reject=reject,
        store_events=rig.store.write_events,
        settings=ManagerSettings(resync_s=0.2),
    )
    try:
        assert (await manager.start()).started == ()
        src = _modbus(rig, modbus_device)
        await modbus_device.set("hr", 10, [235])
        await rig.repo.sources.upsert(
            [src], [SensorBinding(src.id, f"{rig.uid}-temp", "hr:10", scale=0.1, data_type="int16")]
        )
        await eventually(lambda: rig.latest("temp") == pytest.approx(23.5))
        assert manager.counters.reconciles >= 2 and manager.counters.reconcile_errors == 0
    finally:
        await manager.aclose()
    reconciles = manager.counters.reconciles
    await asyncio.sleep(0.5)
    assert manager.counters.reconciles == reconciles  # closed: no resync after aclose


def test_resync_interval_is_checked() -> None:
    with pytest.raises(ValidationError, match="resync_s"):
        ManagerSettings(resync_s=-1)
