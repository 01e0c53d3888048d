"""The cost of durable acknowledgement. Prints figures; asserts nothing.

    python bench/bench_durable.py [--concurrency 32] [--dir DIR]

Pipeline ingest (validation + batching writer + DuckDB store, the production defaults:
``flush_interval`` 0.5 s, ``max_batch`` 10,000) in batches of 1, 100 and 10,000
readings, each size run twice in the same process: ``queued`` (``durable=False``, the
call returns once the batch is queued: what ``POST /ingest`` answered before) and
``durable`` (the call returns once the batch is committed: what it answers now). One
caller at a time (a client waiting for each answer), then ``--concurrency`` callers
at once (durable callers share commits: group commit). The ratio durable/queued is
the figure to read; absolute numbers depend on the disk.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

from graph.model import Sensor
from ingest.pipeline import IngestPipeline, PipelineSettings, StaticCatalog
from ingest.reading import RawReading
from ingest.store import StoreSettings, open_store

SIZES = ((1, 2_000), (100, 100_000), (10_000, 500_000))


def raws(total: int) -> list[RawReading]:
    base = datetime.now(UTC) - timedelta(seconds=total)
    return [
        RawReading(
            f"s-{i % 100}", float(i % 90), base + timedelta(seconds=i // 100, microseconds=i % 100)
        )
        for i in range(total)
    ]


async def run(root: Path, label: str, size: int, total: int, durable: bool, callers: int) -> float:
    """Readings per second of ``total`` readings in batches of ``size``."""
    sensors = [
        Sensor(f"s-{i}", f"a-{i // 10}", f"S{i}", "temperature", "°C", 0, 100) for i in range(100)
    ]
    store = await open_store(StoreSettings(path=root / f"{label}.duckdb"))
    pipe = IngestPipeline(
        store, StaticCatalog(sensors), PipelineSettings(spill_dir=root / f"{label}-spill")
    )
    await pipe.start()
    data = raws(total)
    chunks = [data[i : i + size] for i in range(0, total, size)]

    async def caller(mine: list[list[RawReading]]) -> None:
        for chunk in mine:
            await pipe.ingest(chunk, durable=durable)

    t = time.perf_counter()
    await asyncio.gather(*(caller(chunks[k::callers]) for k in range(callers)))
    elapsed = time.perf_counter() - t  # answered; a queued run still has rows to write
    await pipe.aclose()
    await store.aclose()
    assert pipe.stats().stored == total
    return total / elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds, queued and durable "
          "alternated in each; min/median over rounds")  # fmt: skip
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        root = Path(tmp)
        for callers in (1, args.concurrency):
            print(f"pipeline ingest, {callers} caller(s): readings/s answered (min/median)")
            print(f"  {'batch':>7}  {'queued':>17}  {'durable':>17}  durable/queued (min/median)")
            for size, total in SIZES:
                queued, durable = [], []
                for k in range(args.rounds):
                    tag = f"{callers}-{size}-{k}"
                    queued.append(await run(root, f"q{tag}", size, total, False, callers))
                    durable.append(await run(root, f"d{tag}", size, total, True, callers))
                ratio = [d / q for d, q in zip(durable, queued, strict=True)]
                print(
                    f"  {size:>7,}  {min(queued):>8,.0f}/{median(queued):<8,.0f}"
                    f"  {min(durable):>8,.0f}/{median(durable):<8,.0f}"
                    f"  {min(ratio):.2f}/{median(ratio):.2f}"
                )


if __name__ == "__main__":
    asyncio.run(main())
