"""Benchmark: health results in the graph (the persistence side of a fleet assessment).

    python bench/bench_health_store.py [--assets 1000] [--rounds 3] [--heap 1g]

Starts the embedded graph server (ArcadeDB over Bolt) in a temporary directory, creates
``--assets`` assets, then times, per round (a fresh set of assessment ids each round):

* ``save``: all assets' assessments in one ``HealthRepository.save`` (one transaction),
* ``latest``: every asset's latest assessment in one ``HealthRepository.latest``,
* ``open``: one ``WorkOrderRepository.open_for_asset`` per asset, 8 at a time, on half
  the assets (ArcadeDB refuses concurrent commits that touch the same page, so these
  transactions retry: the cost of one transaction per asset),
* ``open_many``: ``WorkOrderRepository.open_many`` for the other half, one transaction
  (the first round opens the orders, later rounds find the active ones: the planner's
  steady state),
* ``renewals``: every asset's life clock in one ``MaintenanceRepository.last_renewals``,

beside a reference measured in the same process and rounds: ``get_many`` of the same
assets (one UNWIND read of as many nodes). Prints min and median over the rounds, the
ratio of each median to the reference's, and the machine's load average.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graph.bolt.client import GraphClient  # noqa: E402
from graph.bolt.embedded import EmbeddedGraphServer  # noqa: E402
from graph.bolt.repository import GraphRepository  # noqa: E402
from graph.bolt.settings import EmbeddedGraphSettings  # noqa: E402
from graph.health import HealthAssessment  # noqa: E402
from graph.model import Asset, WorkOrder, WorkOrderStatus  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def assessments(ids: list[str], round_no: int) -> list[HealthAssessment]:
    as_of = T0 + timedelta(hours=round_no)
    return [
        HealthAssessment(
            id=f"h-{i}-{round_no}",
            asset_id=i,
            at=as_of,
            as_of=as_of,
            method="bench",
            health_index=0.8,
            anomaly_score=0.1,
            rul_hours=500.0 - round_no,
            rul_low=400.0,
            rul_high=600.0,
            confidence=0.9,
            window_from=as_of - timedelta(hours=24),
            window_to=as_of,
            contributions={f"{i}.vibration": 0.6, f"{i}.temp": 0.4},
        )
        for i in ids
    ]


async def timed(work: Callable[[], Awaitable[object]]) -> float:
    t0 = time.perf_counter()
    await work()
    return time.perf_counter() - t0


async def main(n: int, rounds: int, heap: str) -> None:
    with tempfile.TemporaryDirectory(prefix="twinql-bench-health-") as tmp:
        server = EmbeddedGraphServer(EmbeddedGraphSettings(data_dir=Path(tmp), heap=heap))
        await server.start()
        try:
            async with GraphClient(server.graph_settings()) as client:
                repo = GraphRepository(client)
                await repo.ensure_schema()
                ids = [f"pump-{k:05d}" for k in range(n)]
                await repo.assets.upsert([Asset(i, i, "centrifugal_pump", "equipment") for i in ids])
                times: dict[str, list[float]] = {k: [] for k in ("reference", "save", "latest", "open", "open_many", "renewals")}  # noqa: E501
                gate = asyncio.Semaphore(8)

                async def open_one(i: str, r: int) -> None:
                    async with gate:
                        order = WorkOrder(f"wo-{i}-{r}", i, WorkOrderStatus.OPEN, 2, T0, "bench")
                        await repo.work_orders.open_for_asset(order)

                half = n // 2

                async def open_all(r: int) -> None:
                    await asyncio.gather(*(open_one(i, r) for i in ids[:half]))

                def orders(r: int) -> list[WorkOrder]:
                    return [
                        WorkOrder(f"wo-{i}-{r}", i, WorkOrderStatus.OPEN, 2, T0, "bench")
                        for i in ids[half:]
                    ]

                for r in range(rounds):
                    batch = assessments(ids, r)
                    times["reference"].append(await timed(lambda: repo.assets.get_many(ids)))
                    times["save"].append(await timed(lambda b=batch: repo.health.save(b)))  # type: ignore[misc]
                    times["latest"].append(await timed(lambda: repo.health.latest(ids)))
                    times["open"].append(await timed(lambda r=r: open_all(r)))  # type: ignore[misc]
                    many = orders(r)
                    times["open_many"].append(
                        await timed(lambda m=many: repo.work_orders.open_many(m))  # type: ignore[misc]
                    )
                    times["renewals"].append(await timed(lambda: repo.maintenance.last_renewals(ids)))
                latest = await repo.health.latest(ids)
                assert all(h is not None and h.id.endswith(f"-{rounds - 1}") for h in latest.values())
                page = await repo.work_orders.page(status=WorkOrderStatus.OPEN, limit=500)
                assert len(page.items) == min(n, 500)
        finally:
            await server.aclose()
    ref = statistics.median(times["reference"])
    print(f"{n:,} assets, {rounds} rounds, load average {os.getloadavg()[0]:.2f} "
          f"on {os.cpu_count()} cores")  # fmt: skip
    for name, values in times.items():
        med = statistics.median(values)
        count = n - n // 2 if name == "open_many" else n // 2 if name == "open" else n
        print(f"  {name:<9} {count:>6,} assets  min {min(values) * 1000:7.0f} ms  median "
              f"{med * 1000:7.0f} ms  x{med / ref:6.1f} of the reference  "
              f"({count / med:,.0f} assets/s)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--heap", default="1g")
    args = parser.parse_args()
    logging.getLogger("neo4j").setLevel(logging.ERROR)  # retried conflicts are expected
    asyncio.run(main(args.assets, args.rounds, args.heap))
