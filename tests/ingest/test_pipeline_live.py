"""Latest-value cache, live bus and the IngestPipeline facade end to end on DuckDB."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from graph.model import Sensor
from graph.timeutil import from_us, utcnow
from ingest.pipeline import (
    IngestPipeline,
    LatestCache,
    LiveBus,
    Missed,
    PipelineSettings,
    StaticCatalog,
)
from ingest.reading import Quality, RawReading
from ingest.store import DuckDBStore, ReadingBatch

T0_US = 1_709_294_400_000_000


def batch(sensor: str, values: list[float], start: int = 0) -> ReadingBatch:
    n = len(values)
    return ReadingBatch.from_columns(
        [T0_US + (start + i) * 1_000_000 for i in range(n)],
        [sensor] * n,
        ["a"] * n,
        values,
        ["good"] * n,
    )


async def test_slow_subscriber_gets_missed_marker_and_never_blocks() -> None:
    bus = LiveBus()
    slow = bus.subscribe(maxsize=2)
    only_b = bus.subscribe(["b"], maxsize=10)
    for i in range(5):
        bus.publish(batch("a", [float(i)]))  # returns at once, whatever the subscribers do
    bus.publish(batch("b", [9.0]))
    first = await slow.get()
    assert first == Missed(updates=4, readings=4)
    rest = [await slow.get(), await slow.get()]
    assert [float(b.value[0]) for b in rest] == [4.0, 9.0]
    got = await only_b.get()
    assert isinstance(got, ReadingBatch) and got.sensor_id.tolist() == ["b"]
    waiter = asyncio.create_task(only_b.get())
    await asyncio.sleep(0)
    bus.close()
    assert bus.subscribers == 0
    with pytest.raises(StopAsyncIteration):  # a closed subscription ends
        await waiter


async def test_latest_cache_warms_from_store_and_moves_forward(tmp_path: Path) -> None:
    async with DuckDBStore(tmp_path / "r.duckdb") as store:
        await store.write(batch("s1", [1.0, 2.0, 3.0]))
        cache = LatestCache()
        assert await cache.warm(store, ["s1", "s2"]) == 1
        assert cache.get("s1").value == 3.0
        cache.update(batch("s1", [7.0], start=1))  # older than what it holds: ignored
        assert cache.get("s1").value == 3.0
        cache.update(ReadingBatch.concat([batch("s2", [5.0, np.nan], 10), batch("s1", [8.0], 9)]))
        assert cache.get("s1").value == 8.0 and cache.get("s1").ts == from_us(T0_US + 9_000_000)
        assert cache.get("s2").value is None  # the newest is a missing value
        assert set(cache.get_many(["s1", "s2", "s3"])) == {"s1", "s2"}


async def test_pipeline_end_to_end(tmp_path: Path) -> None:
    sensors = [
        Sensor("p-temp", "pump-1", "T", "temperature", "°C", 0.0, 100.0),
        Sensor("p-flow", "pump-1", "F", "flow", "m³/h"),
    ]
    settings = PipelineSettings(spill_dir=tmp_path / "spill", flush_interval=0.01)
    async with DuckDBStore(tmp_path / "r.duckdb") as store:
        pipeline = IngestPipeline(store, StaticCatalog(sensors), settings)
        await pipeline.start(warm_sensor_ids=["p-temp"])
        sub = pipeline.bus.subscribe(["p-temp"])
        now = utcnow().replace(microsecond=0)
        body = json.dumps(
            [
                {
                    "sensor_id": "p-temp",
                    "value": 20.0,
                    "timestamp": (now - timedelta(seconds=2)).isoformat(),
                },
                {
                    "sensor_id": "p-temp",
                    "value": 500.0,
                    "timestamp": (now - timedelta(seconds=1)).isoformat(),
                },
                {"sensor_id": "p-flow", "value": 3.5, "unit": "m3/h", "asset_id": "pump-1"},
                {"sensor_id": "ghost", "value": 1.0},
                {"sensor_id": "p-temp", "value": "hot"},
                {"sensor_id": "p-temp"},
            ]
        )
        result = await pipeline.ingest_body(body, "application/json")
        assert (result.accepted, result.rejected) == (3, 3)
        assert [(e["index"], e["reason"]) for e in result.as_dict()["errors"]] == [
            (3, "unknown sensor"),
            (4, "non-numeric value 'hot'"),
            (5, "value is required (null for a missing value)"),
        ]
        live = await sub.get()
        assert isinstance(live, ReadingBatch) and live.value.tolist() == [20.0, 500.0]
        assert pipeline.latest.get("p-temp").quality is Quality.BAD
        again = await pipeline.ingest([RawReading("p-flow", float("nan"))])
        assert again.errors[0].reason == "non-finite value"
        await pipeline.aclose()
        stats = pipeline.stats()
        assert (stats.received, stats.stored, stats.rejected) == (3, 3, 4)
        window = (now - timedelta(minutes=1), now + timedelta(minutes=1))
        summary = await store.summary(["p-temp"], *window)
        assert summary["p-temp"].max == 20.0  # the out-of-range value is left out
        assert (await store.summary(["p-temp"], *window, include_bad=True))["p-temp"].max == 500.0
        reasons = sorted(r.reason for r in await store.rejected())
        assert reasons == [
            "non-finite value",
            "non-numeric value 'hot'",
            "unknown sensor",
            "value is required (null for a missing value)",
        ]
