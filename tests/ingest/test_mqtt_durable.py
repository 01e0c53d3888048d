"""MQTT QoS 1 through the real pipeline on a full disk: a real mosquitto, the connector
manager, the ingest pipeline and a DuckDB store whose file and spill log sit on a small
tmpfs the test fills. Readings that cannot be made durable are not acknowledged: the
connector drops its connection and the broker delivers them again, until space returns;
then every published reading is stored exactly once and none became a dead letter."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiomqtt
import duckdb

from graph.bolt.repository import GraphRepository
from graph.bolt.sources import SourceConfig
from graph.model import Asset, DataSource, Sensor, SensorBinding
from ingest.manager import ConnectorManager, ManagerSettings
from ingest.pipeline import IngestPipeline, PipelineSettings
from ingest.reading import RawReading
from ingest.store import ReadingBatch, RejectedRow, StoreSettings, open_store
from tests.support.disk import Disk
from tests.support.polling import eventually

T0 = datetime(2024, 3, 1, tzinfo=UTC)
N = 300


class Mine:
    def __init__(self, repo: GraphRepository, prefix: str) -> None:
        self.repo, self.prefix = repo, prefix

    async def configs(self, source_ids: Iterable[str] | None = None) -> list[SourceConfig]:
        found = await self.repo.sources.configs(source_ids)
        return [c for c in found if c.source.id.startswith(self.prefix)]


class Sensors:
    def __init__(self, repo: GraphRepository) -> None:
        self.repo = repo

    async def get_many(self, ids: Iterable[str]) -> dict[str, Sensor]:
        return await self.repo.devices.sensors(ids)


def counts(path: Path, sensor: str) -> tuple[int, int]:
    with duckdb.connect(str(path), read_only=True) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT ts) FROM readings WHERE sensor_id = ?", [sensor]
        ).fetchone()
        ((dead,),) = conn.execute("SELECT count(*) FROM rejected_readings").fetchall()
    assert row is not None and dead == 0
    return int(row[0]), int(row[1])


async def test_unacknowledged_readings_come_again_after_a_full_disk(
    repo: GraphRepository, uid: str, small_disk: Disk, mosquitto_url: str
) -> None:
    asset, sensor = f"{uid}-pump", f"{uid}-temp"
    await repo.assets.upsert([Asset(asset, "Pump", "pump", "equipment")])
    await repo.devices.upsert_sensors(
        [Sensor(sensor, asset, "temp", "temperature", "degC", 0, 1e6)]
    )
    source = DataSource(
        f"{uid}-broker",
        "mqtt",
        mosquitto_url,
        settings={"reconnect_min_s": 0.1, "reconnect_max_s": 0.3},
    )
    await repo.sources.upsert([source], [SensorBinding(source.id, sensor, "temp")])
    path = small_disk.root / "r.duckdb"
    store = await open_store(StoreSettings(path=path, threads=1))
    pipeline = IngestPipeline(
        store, Sensors(repo), PipelineSettings(spill_dir=small_disk.root / "spill")
    )
    await pipeline.start()

    async def sink(raws: list[RawReading]) -> None:
        await pipeline.ingest(raws, durable=True)

    async def reject(rows: list[RejectedRow]) -> None:
        await pipeline.writer.submit(ReadingBatch.empty(), rows)

    manager = ConnectorManager(
        Mine(repo, uid), sink, reject=reject, store_events=store.write_events,
        settings=ManagerSettings(),
    )  # fmt: skip
    try:
        await manager.start()
        connector = manager.connector(source.id)
        assert connector is not None and await connector.wait_connected(10)
        small_disk.fill()
        async with aiomqtt.Client("127.0.0.1", int(mosquitto_url.rsplit(":", 1)[1])) as c:
            for i in range(N):
                at = T0 + timedelta(seconds=i)
                payload = json.dumps({"value": float(i), "timestamp": at.isoformat()})
                await c.publish(f"assets/{asset}/sensors/temp/data", payload, qos=1)
        await eventually(
            lambda: connector.status().reconnects >= 1,
            within=30,
            what="the connector drops the connection instead of acknowledging",
        )
        assert pipeline.writer.stats().faults >= 1  # why the readings were not durable
        small_disk.free()
        summary = await eventually(
            lambda: store.summary([sensor], T0, T0 + timedelta(days=1)),
            done=lambda s: s[sensor].count == N,
            within=60,
            what="every published reading stored after the disk was freed",
        )
        assert summary[sensor].count == N
    finally:
        await manager.aclose()
        await pipeline.aclose()
        await store.aclose()
    assert counts(path, sensor) == (N, N)
