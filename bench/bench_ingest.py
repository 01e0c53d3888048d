"""Ingest and read benchmarks of the readings path. Prints figures; asserts nothing.

    python bench/bench_ingest.py [--rows 100000000] [--questdb-url http://127.0.0.1:9000]

1. Pipeline ingest throughput (validation + batching writer + store) in batches of
   1, 100 and 10,000 readings, into DuckDB (and QuestDB when --questdb-url is given),
   each call returning once queued (``durable=False``; bench_durable.py compares).
   The reference, alternated with it over ``--rounds`` rounds in the same process:
   bare DuckDB ``INSERT … SELECT`` from an Arrow table built from the same readings
   as arrays (ts, sensor, asset, value, quality), in chunks of the same size, into the
   same table shape. Each round prints both rates and the ratio; then min and median
   of the ratios and the machine's load average.
2. A DuckDB store of --rows readings (1,000 sensors at 1 Hz) generated in-database with
   range(), plus one sensor with 24 h at 1 Hz; then read latencies: that day downsampled
   to 1 min (no fill and linear fill), latest of 1,000 sensors in one query, a 1 h
   summary of 100 sensors, and a 10,000-reading write (dedup) into the big table. The
   table is generated outside the store, so opening it first fills ``latest_readings``
   (timed: what a file from before that table pays once).
Peak memory (max RSS) is printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from graph.model import Sensor
from graph.timeutil import to_us
from ingest.pipeline import IngestPipeline, PipelineSettings, StaticCatalog, WriterStats
from ingest.pipeline.columns import Columns
from ingest.reading import RawReading
from ingest.store import Aggregate, DuckDBStore, Fill, ReadingBatch, StoreSettings, open_store

SENSORS = 1_000
DAY_START = datetime(2024, 1, 1, tzinfo=UTC)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reference_insert(path: Path, batch: ReadingBatch, size: int) -> float:
    """Seconds for bare DuckDB to insert ``batch`` in chunks of ``size`` (Arrow tables
    built from the arrays, ``INSERT … SELECT``), into a fresh file."""
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            """CREATE TABLE readings (ts TIMESTAMP NOT NULL, asset_id VARCHAR NOT NULL,
               sensor_id VARCHAR NOT NULL, value DOUBLE, quality VARCHAR NOT NULL)"""
        )
        t = time.perf_counter()
        for i in range(0, len(batch), size):
            chunk = batch.take(slice(i, i + size))
            chunk_arrow = pa.table(  # noqa: F841 - read by name in the statement
                {
                    "ts": pa.array(chunk.ts, type=pa.timestamp("us")),
                    "asset_id": pa.array(chunk.asset_id, type=pa.string()),
                    "sensor_id": pa.array(chunk.sensor_id, type=pa.string()),
                    "value": pa.array(chunk.value, type=pa.float64()),
                    "quality": pa.array(chunk.quality, type=pa.string()),
                }
            )
            conn.execute("INSERT INTO readings SELECT * FROM chunk_arrow")
        return time.perf_counter() - t


async def pipeline_run(
    settings: StoreSettings, catalog: StaticCatalog, spill: Path, raws: list[RawReading], size: int
) -> tuple[float, WriterStats]:
    store = await open_store(settings)
    pipe = IngestPipeline(store, catalog, PipelineSettings(spill_dir=spill, flush_interval=0.05))
    await pipe.start()
    t = time.perf_counter()
    for i in range(0, len(raws), size):
        await pipe.ingest(raws[i : i + size], durable=False)
    await pipe.aclose()
    elapsed = time.perf_counter() - t
    stats = pipe.stats()
    await store.aclose()
    return elapsed, stats


async def columns_run(
    settings: StoreSettings, catalog: StaticCatalog, spill: Path, batch: ReadingBatch, size: int
) -> tuple[float, WriterStats]:
    """``pipeline_run`` through the columnar entry (``IngestPipeline.ingest_columns``):
    the same readings as arrays, as the reference gets them."""
    store = await open_store(settings)
    pipe = IngestPipeline(store, catalog, PipelineSettings(spill_dir=spill, flush_interval=0.05))
    await pipe.start()
    received = to_us(datetime.now(UTC))
    t = time.perf_counter()
    for i in range(0, len(batch), size):
        n = min(size, len(batch) - i)
        cols = Columns(
            sensor_id=batch.sensor_id[i : i + n].tolist(),
            value=batch.value[i : i + n],
            null=np.zeros(n, dtype=bool),
            ts_us=batch.ts[i : i + n],
            quality=[None] * n,
            index=np.arange(n),
            received_us=received,
        )
        await pipe.ingest_columns(cols, durable=False)
    await pipe.aclose()
    elapsed = time.perf_counter() - t
    stats = pipe.stats()
    await store.aclose()
    return elapsed, stats


async def ingest_throughput(
    label: str, settings: StoreSettings, spill: Path, rounds: int, root: Path
) -> None:
    sensors = [
        Sensor(f"s-{i}", f"a-{i // 10}", f"S{i}", "temperature", "°C", 0, 100) for i in range(100)
    ]
    catalog = StaticCatalog(sensors)
    now = datetime.now(UTC)
    for size, total in ((1, 5_000), (100, 100_000), (10_000, 500_000)):
        ratios, col_ratios = [], []
        for r in range(rounds):
            base = now - timedelta(seconds=total * (r + 2))
            raws = [
                RawReading(
                    f"s-{i % 100}",
                    float(i % 90),
                    base + timedelta(seconds=i // 100, microseconds=i % 100),
                )
                for i in range(total)
            ]
            ts = np.array([to_us(x.timestamp) for x in raws], dtype=np.int64)  # type: ignore[arg-type]
            arrays = ReadingBatch.from_columns(
                ts,
                [x.sensor_id for x in raws],
                [f"a-{int(x.sensor_id[2:]) // 10}" for x in raws],
                [x.value for x in raws],  # type: ignore[misc]
                ["good"] * total,
            )
            run_settings = settings  # a fresh DuckDB file per run, as the reference's
            if settings.path is not None:
                run_settings = replace(settings, path=root / f"{label}-{size}-{r}.duckdb")
            elapsed, stats = await pipeline_run(
                run_settings, catalog, spill / f"{label}-{size}-{r}", raws, size
            )
            ref = await asyncio.to_thread(reference_insert, root / "reference.duckdb", arrays, size)
            if settings.path is not None:
                run_settings = replace(settings, path=root / f"{label}-{size}-{r}-c.duckdb")
            else:  # the same QuestDB table: later timestamps, as another round would
                arrays = replace(arrays, ts=arrays.ts + total * 1_000_000)
            col_s, col_stats = await columns_run(
                run_settings, catalog, spill / f"{label}-{size}-{r}-c", arrays, size
            )
            ratios.append(ref / elapsed)
            col_ratios.append(ref / col_s)
            print(
                f"  {label:8s} batch {size:>6,}: objects {total / elapsed:>10,.0f} readings/s "
                f"(stored {stats.stored:,}, spilled {stats.spilled:,}), columns "
                f"{total / col_s:>10,.0f}/s (stored {col_stats.stored:,}); bare DuckDB "
                f"{total / ref:>10,.0f}/s; ratios {ref / elapsed:.2f} / {ref / col_s:.2f} "
                f"(load {os.getloadavg()[0]:.2f})"
            )
        print(
            f"  {label:8s} batch {size:>6,}: ratio to bare DuckDB, objects min {min(ratios):.2f} "
            f"median {statistics.median(ratios):.2f}; columns min {min(col_ratios):.2f} median "
            f"{statistics.median(col_ratios):.2f} over {rounds} rounds"
        )


def build_big(path: Path, rows: int) -> tuple[float, float]:
    t = time.perf_counter()
    start_us = int(DAY_START.timestamp() * 1_000_000)
    with duckdb.connect(str(path)) as conn:
        conn.execute("SET preserve_insertion_order = false")
        conn.execute(
            """CREATE TABLE readings (ts TIMESTAMP NOT NULL, asset_id VARCHAR NOT NULL,
               sensor_id VARCHAR NOT NULL, value DOUBLE, quality VARCHAR NOT NULL)"""
        )
        conn.execute(
            """INSERT INTO readings
               SELECT make_timestamp($start + (i // $n) * 1000000), 'a-' || ((i % $n) // 10),
                      's-' || (i % $n), 50 + 20 * sin(i / 5000.0),
                      CASE WHEN i % 997 = 0 THEN 'bad' ELSE 'good' END
               FROM range($rows) t(i)""",
            {"start": start_us, "n": SENSORS, "rows": rows},
        )
        conn.execute(
            """INSERT INTO readings
               SELECT make_timestamp($start + i * 1000000), 'a-day', 'day-1hz',
                      20 + 5 * sin(i / 600.0), 'good'
               FROM range(86400) t(i)""",
            {"start": start_us},
        )
    return time.perf_counter() - t, path.stat().st_size / 1e9


def latest_by_scan(path: Path, ids: list[str]) -> tuple[float, dict[str, tuple]]:
    """The newest reading of each sensor by scanning ``readings`` (the reference)."""
    with duckdb.connect(str(path)) as conn:
        t = time.perf_counter()
        rows = conn.execute(
            """SELECT sensor_id, epoch_us(max(ts)), arg_max({'v': value, 'q': quality}, ts)
               FROM readings WHERE sensor_id IN (SELECT unnest($ids::VARCHAR[]))
               GROUP BY sensor_id""",
            {"ids": ids},
        ).fetchall()
        elapsed = time.perf_counter() - t
    return elapsed, {sid: (t, r["v"], r["q"]) for sid, t, r in rows}


async def timed(label: str, fn, repeat: int = 5) -> None:  # noqa: ANN001
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        result = await fn()
        times.append(time.perf_counter() - t)
    print(
        f"  {label:52s} median {statistics.median(times) * 1000:8.1f} ms  (min {min(times) * 1000:.1f})  -> {result}"
    )


async def big_store(path: Path, rows: int) -> None:
    print(f"building a DuckDB store of {rows:,} + 86,400 rows in-database ...")
    elapsed, size_gb = await asyncio.to_thread(build_big, path, rows)
    print(f"  generated in {elapsed:.1f} s, file {size_gb:.2f} GB")
    ids = [f"s-{i}" for i in range(SENSORS)]
    day = (DAY_START, DAY_START + timedelta(days=1))
    scan_s, reference = await asyncio.to_thread(latest_by_scan, path, ids)
    print(f"  latest of 1,000 sensors by a full scan (the old query): {scan_s * 1000:.0f} ms")
    t = time.perf_counter()
    store = await DuckDBStore(path).open()  # fills latest_readings once (a pre-existing file)
    print(f"  open, one-off fill of latest_readings from readings: {time.perf_counter() - t:.2f} s")
    async with store:

        async def day_1min(fill: Fill = Fill.NONE):  # noqa: ANN202
            s = await store.history(["day-1hz"], *day, timedelta(minutes=1), Aggregate.AVG, fill)
            return f"{len(s['day-1hz'])} buckets"

        await timed("24 h @ 1 Hz -> 1 min avg (fill none)", day_1min)
        await timed("24 h @ 1 Hz -> 1 min avg (fill linear)", lambda: day_1min(Fill.LINEAR))

        async def latest():  # noqa: ANN202
            return f"{len(await store.latest(ids))} sensors"

        await timed("latest of 1,000 sensors (one query)", latest, repeat=3)
        got = await store.latest(ids)
        same = {k: (to_us(v.ts), v.value, v.quality.value) for k, v in got.items()} == reference
        print(f"  latest equals the full-scan answer: {same}")

        async def summary():  # noqa: ANN202
            got = await store.summary(ids[:100], DAY_START, DAY_START + timedelta(hours=1))
            return f"{sum(s.count for s in got.values()):,} readings summarised"

        await timed("1 h summary of 100 sensors (one query)", summary, repeat=3)
        last_us = int(DAY_START.timestamp() * 1e6) + (rows // SENSORS) * 1_000_000
        rng = np.random.default_rng(1)

        async def write_10k():  # noqa: ANN202
            ts = last_us - rng.integers(0, 60, 10_000) * 1_000_000  # overlaps the newest minute
            sid = np.array([f"s-{i}" for i in rng.integers(0, SENSORS, 10_000)], dtype=object)
            batch = ReadingBatch.from_columns(
                ts, sid, ["a"] * 10_000, rng.random(10_000), ["good"] * 10_000
            )
            return f"{await store.write(batch):,} rows"

        await timed("write 10,000 readings with dedup into the big table", write_10k, repeat=3)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--questdb-url", default=None)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        print("pipeline ingest throughput (validate + batch + store):")
        await ingest_throughput(
            "duckdb", StoreSettings(path=root / "ingest.duckdb"), root / "spill", args.rounds, root
        )
        if args.questdb_url:
            qs = StoreSettings(
                backend="questdb", questdb_url=args.questdb_url, table_prefix="bench_"
            )
            await ingest_throughput("questdb", qs, root / "spill", args.rounds, root)
        if args.rows:
            await big_store(root / "big.duckdb", args.rows)
    print(f"peak memory (max RSS): {peak_mb():,.0f} MB")


if __name__ == "__main__":
    asyncio.run(main())
