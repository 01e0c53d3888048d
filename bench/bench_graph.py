"""Graph benchmark: import a generated plant, then time GraphQL tree and impact queries.

    python bench/bench_graph.py                       # 10,000 assets, 50,000 sensors
    python bench/bench_graph.py --assets 2000 --repeat 3

Starts the embedded graph server (ArcadeDB, Bolt) in a temporary directory and the real
app under uvicorn on a free port, so the queries go through HTTP, GraphQL, DataLoaders
and Bolt exactly as a client's would. Prints timings, store round trips and peak memory
of this process and of the graph server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app  # noqa: E402
from api.services.container import Services  # noqa: E402
from api.settings import Settings  # noqa: E402
from bench.gen_plant import generate_plant  # noqa: E402
from bench.graph_queries import IMPACT, SUBTREE, TREE, UNIT_WALKS  # noqa: E402
from graph.bolt.embedded import free_port  # noqa: E402
from graph.bolt.importer import import_plant  # noqa: E402

TOKEN = "bench-admin-token-0123456789"


def _rss_mib(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process, in MiB."""
    path = Path(f"/proc/{pid or 'self'}/status")
    for line in path.read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _time(
    client: httpx.AsyncClient, query: str, variables: dict, repeat: int
) -> tuple[list[float], dict]:
    times = []
    body: dict = {}
    for _ in range(repeat):
        t0 = time.perf_counter()
        r = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        times.append(time.perf_counter() - t0)
        body = r.json()
        if "errors" in body:
            raise SystemExit(f"query failed: {body['errors']}")
    return times, body


def _count(node: object, key: str = "id") -> int:
    if isinstance(node, dict):
        return (1 if key in node else 0) + sum(_count(v, key) for v in node.values())
    if isinstance(node, list):
        return sum(_count(v, key) for v in node)
    return 0


async def main(n_assets: int, sensors_per_asset: int, repeat: int, heap: str) -> None:
    t0 = time.perf_counter()
    plant = generate_plant(n_assets=n_assets, sensors_per_asset=sensors_per_asset, seed=0)
    print(f"generated plant: {plant.counts()} in {time.perf_counter() - t0:.2f} s")
    with tempfile.TemporaryDirectory(prefix="twinql-bench-") as tmp:
        port = free_port()
        settings = Settings(
            data_dir=Path(tmp),
            port=port,
            tokens=f"{TOKEN}:admin:bench",
            graph_heap=heap,
        )  # the default depth and cost limits, as a deployment has them
        app = create_app(settings)
        server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        services: Services = app.state.services
        try:
            t0 = time.perf_counter()
            report = await import_plant(services.repo, plant)
            first = time.perf_counter() - t0
            t0 = time.perf_counter()
            await import_plant(services.repo, plant)
            again = time.perf_counter() - t0
            n_sensors = len(plant.sensors)
            print(
                f"import: {len(plant.assets):,} assets, {n_sensors:,} sensors, "
                f"{len(plant.relations):,} relations in {first:.2f} s "
                f"({(len(plant.assets) + n_sensors) / first:,.0f} nodes/s); "
                f"re-import (idempotent) {again:.2f} s"
            )
            del report
            site = next(a.id for a in plant.assets if a.level.value == "site")
            unit = next(a.id for a in plant.assets if a.level.value == "unit")
            area = next(a.id for a in plant.assets if a.level.value == "area")
            client_sent = services.repo.client
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=600) as c:
                before = client_sent.sent_count
                times, body = await _time(c, TREE, {"id": site}, repeat)
                trips = (client_sent.sent_count - before) / repeat
                print(
                    f"GraphQL 4-level tree with sensors under {site}: {_count(body):,} objects, "
                    f"median {statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms, "
                    f"{trips:.0f} Bolt statements per query"
                )
                times, body = await _time(c, SUBTREE, {"id": site}, repeat)
                print(
                    f"GraphQL subtree(depth: 4) of {site}: {len(body['data']['asset']['subtree']):,} "
                    f"assets, median {statistics.median(times) * 1000:.0f} ms"
                )
                times, body = await _time(c, IMPACT, {"id": unit}, repeat)
                impact = body["data"]["impact"]
                far = max((r["distance"] for r in impact), default=0)
                print(
                    f"GraphQL impact of {unit}: {len(impact):,} assets downstream (max distance "
                    f"{far}), median {statistics.median(times) * 1000:.0f} ms"
                )
                before = client_sent.sent_count
                times, body = await _time(c, UNIT_WALKS, {"id": area}, repeat)
                trips = (client_sent.sent_count - before) / repeat
                units = [
                    unit
                    for line in body["data"]["asset"]["children"]["nodes"]
                    for unit in line["children"]["nodes"]
                ]
                print(
                    f"GraphQL {len(units)} units of {area} with ancestors and impact: "
                    f"{sum(len(x['impact']) for x in units):,} reachable in all, "
                    f"median {statistics.median(times) * 1000:.0f} ms, "
                    f"{trips:.0f} Bolt statements per query"
                )
            java_pid = (
                services.graph_server._proc.pid
                if services.graph_server and services.graph_server._proc
                else None
            )
            print(
                f"peak memory: twinql process {_rss_mib():.0f} MiB "
                f"(ru_maxrss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB), "
                f"graph server {_rss_mib(java_pid) if java_pid else float('nan'):.0f} MiB (heap -Xmx{heap})"
            )
        finally:
            server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError):
                await task


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=10_000)
    parser.add_argument("--sensors-per-asset", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--heap", default="2g", help="graph server heap (default 2g)")
    args = parser.parse_args()
    asyncio.run(main(args.assets, args.sensors_per_asset, args.repeat, args.heap))
