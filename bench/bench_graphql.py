"""GraphQL read benchmark: twinql against a minimal Strawberry + Starlette app, same run.

    python bench/bench_graphql.py                    # 3 rounds, 8 s per row and app
    python bench/bench_graphql.py --rounds 5 --seconds 10 --assets 2000

Starts two servers, each its own process under the same uvicorn (one worker, loopback):

- **twinql**: the real app with embedded defaults (embedded Bolt graph server, DuckDB in a
  temporary directory), a generated plant (``bench.gen_plant``, 2,000 assets and 10,000
  sensors by default) imported and one reading per sensor ingested, an admin token;
- **reference**: a minimal Strawberry schema on Starlette answering the same two query
  shapes with constant objects of the same size as twinql's answers (no store, no auth,
  no limits): the ceiling of HTTP + GraphQL on this machine.

Rows: the point read ``{ sensor(id) { latest { value timestamp } } }`` and the README's
line query (children, their sensors with latest values, impact), each driven by wrk
(``--connections`` 32, closed loop) and then at a fixed ``--rate`` (open loop, latency
counted from the scheduled send, so a stall is not hidden); with ``--tree`` also a
subtree query (the line's subtree to depth 3, each asset's sensors with latest values).
Both servers run on uvloop as ``twinql serve`` does (``--loop asyncio`` for the standard
loop). Apps alternate within every round; each row prints min/median req/s over rounds,
p50/p99, the server's CPU per request (ms: the figure the machine's load disturbs
least), the ratio twinql ÷ reference per round (min/median) of req/s and of CPU per
request (reference ÷ twinql, so above 1 is cheaper), the load average, and twinql's
GC during the round (``gc.callbacks`` in the server process: pause p99 and max, and the
CPU share of all pauses).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import strawberry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TOKEN = "bench-admin-token-0123456789"
POINT = "query Point($id: ID!) { sensor(id: $id) { latest { value timestamp } } }"
TREE = """query Tree($line: ID!) {
  asset(id: $line) {
    subtree(depth: 3) { depth asset { id name type sensors { id kind latest { value timestamp } } } }
  }
}"""
LINE = """query Line($line: ID!, $unit: ID!) {
  asset(id: $line) {
    name
    children {
      nodes { id name type sensors { id kind unit maxValue latest { value timestamp quality } } }
    }
  }
  impact(assetId: $unit) { distance via path asset { id name type } }
}"""


# -- GC pauses, measured inside a server process ------------------------------------------


class GcPauses:
    """Every collection's wall time (``gc.callbacks``), and an ASGI wrapper that answers
    ``GET /bench/gc`` with the pauses since the last call."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._start))

    def wrap(self, app: Any) -> Any:
        async def wrapped(scope: dict, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"] == "/bench/gc":
                body = json.dumps(
                    {"pauses": self.pauses, "tracked": len(gc.get_objects())}
                ).encode()
                self.pauses = []
                await send(
                    {
                        "type": "http.response.start",
                        "status": 200,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            await app(scope, receive, send)

        return wrapped


def _serve(
    app: Any, port: int, loop: str, ready: Callable[[], dict[str, Any]] | None = None
) -> None:
    import uvicorn

    pauses = GcPauses()
    config = uvicorn.Config(
        pauses.wrap(app), port=port, log_level="warning", lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)

    async def run() -> None:
        task = asyncio.create_task(server.serve())
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        print(json.dumps({"ready": True, **(ready() if ready else {})}), flush=True)
        await task

    if loop == "uvloop":
        import uvloop

        uvloop.run(run())
    else:
        asyncio.run(run())


# -- the twinql server ------------------------------------------------------------------------


def serve_twinql(
    port: int, data_dir: Path, n_assets: int, heap: str, gc_tuning: bool, loop: str
) -> None:
    from api.app import create_app
    from api.common.gc_tuning import settle_heap
    from api.services.container import Services
    from api.settings import Settings
    from bench.gen_plant import generate_plant
    from graph.bolt.importer import import_plant
    from ingest.reading import RawReading

    plant = generate_plant(n_assets=n_assets, sensors_per_asset=5, seed=0)
    line = next(a.id for a in plant.assets if a.level.value == "line")
    unit = next(a.id for a in plant.assets if a.parent_id == line)
    sensor = next(s.id for s in plant.sensors if s.asset_id == unit)
    counts = plant.counts()
    held = [plant]  # dropped once imported: its objects are not the server's

    async def on_started(services: Services, _stack: contextlib.AsyncExitStack) -> None:
        plant = held.pop()
        await import_plant(services.repo, plant)
        raws = [RawReading(s.id, 1.0 + i % 7) for i, s in enumerate(plant.sensors)]
        for i in range(0, len(raws), 5_000):
            await services.ingest.ingest(raws[i : i + 5_000])
        del plant, raws
        if gc_tuning:
            settle_heap()  # as ``twinql serve`` does once started

    settings = Settings(
        data_dir=data_dir, port=port, tokens=f"{TOKEN}:admin:bench", graph_heap=heap
    )
    app = create_app(settings, on_started=on_started)
    del plant
    _serve(
        app,
        port,
        loop,
        lambda: {"sensor": sensor, "line": line, "unit": unit, "counts": counts},
    )


# -- the reference server ---------------------------------------------------------------------


@strawberry.type
class Latest:
    value: float
    timestamp: str
    quality: str


@strawberry.type
class Sensor:
    id: strawberry.ID
    kind: str
    unit: str | None
    max_value: float | None
    latest: Latest | None


@strawberry.type
class Asset:
    id: strawberry.ID
    name: str
    type: str
    sensors: list[Sensor]
    children: Children | None
    below: strawberry.Private[list[TreeEntry] | None]

    @strawberry.field
    def subtree(self, depth: int = 3) -> list[TreeEntry] | None:
        return self.below


@strawberry.type
class TreeEntry:
    depth: int
    asset: Asset


@strawberry.type
class Children:
    nodes: list[Asset]


@strawberry.type
class Reachable:
    distance: int
    via: str
    path: list[str]
    asset: Asset


ANSWERS: dict[str, Any] = {}


@strawberry.type
class Query:
    """Constant answers (``ANSWERS``, set by ``serve_reference``)."""

    @strawberry.field
    def sensor(self, id: strawberry.ID) -> Sensor | None:
        return ANSWERS["point"]  # type: ignore[no-any-return]

    @strawberry.field
    def asset(self, id: strawberry.ID) -> Asset | None:
        return ANSWERS["line"]  # type: ignore[no-any-return]

    @strawberry.field
    def impact(self, asset_id: strawberry.ID) -> list[Reachable]:
        return ANSWERS["impact"]  # type: ignore[no-any-return]


def serve_reference(port: int, answers: Path, loop: str) -> None:
    """A minimal Strawberry app: the same query shapes, constant answers of twinql's size."""
    from starlette.applications import Starlette
    from starlette.routing import Route
    from strawberry.asgi import GraphQL

    known = json.loads(answers.read_text())

    def latest(d: dict | None) -> Latest | None:
        if d is None:
            return None
        return Latest(value=d["value"], timestamp=d["timestamp"], quality=d.get("quality", "GOOD"))

    def sensor_of(d: dict) -> Sensor:
        return Sensor(
            id=d.get("id", "x"),
            kind=d.get("kind", "x"),
            unit=d.get("unit"),
            max_value=d.get("maxValue"),
            latest=latest(d.get("latest")),
        )

    def asset_of(d: dict) -> Asset:
        kids = d.get("children")
        below = d.get("subtree")
        return Asset(
            id=d.get("id", "x"),
            name=d.get("name", "x"),
            type=d.get("type", "x"),
            sensors=[sensor_of(s) for s in d.get("sensors", [])],
            children=Children(nodes=[asset_of(n) for n in kids["nodes"]]) if kids else None,
            below=[TreeEntry(depth=e["depth"], asset=asset_of(e["asset"])) for e in below]
            if below is not None
            else None,
        )

    point = sensor_of(known["point"]["sensor"])
    line = asset_of(known["line"]["asset"])
    impact = [
        Reachable(distance=r["distance"], via=r["via"], path=r["path"], asset=asset_of(r["asset"]))
        for r in known["line"]["impact"]
    ]

    ANSWERS.update(point=point, line=line, impact=impact)
    if "tree" in known:
        line.below = asset_of(known["tree"]["asset"]).below
    app = Starlette(routes=[Route("/graphql", GraphQL(strawberry.Schema(query=Query)))])
    _serve(app, port, loop)


# -- the driver -------------------------------------------------------------------------------


class Server:
    def __init__(self, name: str, args: list[str]) -> None:
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *args], stdout=subprocess.PIPE, text=True
        )
        self.info: dict[str, Any] = {}

    def wait_ready(self, timeout: float = 900) -> dict[str, Any]:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit(f"{self.name} server exited ({self.proc.wait()})")
            if line.startswith("{"):
                self.info = json.loads(line)
                return self.info
        raise SystemExit(f"{self.name} server did not start in {timeout} s")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _lua(body: dict[str, Any]) -> str:
    payload = json.dumps(json.dumps(body))
    return (
        'wrk.method = "POST"\n'
        f"wrk.body = {payload}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
    )


_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"unparsed wrk latency {text!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def run_wrk(port: int, script: Path, seconds: float, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(script),
            f"http://127.0.0.1:{port}/graphql",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        raise SystemExit(f"wrk saw failures:\n{out}")
    return {"rps": rps, "p50": p50, "p99": p99}


async def fixed_rate(port: int, body: dict[str, Any], rate: float, seconds: float) -> dict:
    """Open loop: a request every 1/rate s, latency from its scheduled time."""
    import httpx

    headers = {"Authorization": f"Bearer {TOKEN}"}
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:

        async def one(at: float) -> None:
            r = await client.post("/graphql", json=body, headers=headers)
            if r.status_code != 200 or "errors" in r.json():
                raise SystemExit(f"request failed: {r.text[:300]}")
            latencies.append((time.perf_counter() - at) * 1e3)

        tasks = []
        start = time.perf_counter() + 0.05
        for i in range(int(rate * seconds)):
            at = start + i / rate
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            tasks.append(asyncio.create_task(one(at)))
        await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "rps": len(latencies) / seconds,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def gc_pauses(port: int) -> dict[str, float]:
    import httpx

    got = httpx.get(f"http://127.0.0.1:{port}/bench/gc").json()
    ms = sorted(p * 1e3 for _, p in got["pauses"])
    gen2 = [p * 1e3 for g, p in got["pauses"] if g == 2]
    return {
        "n": len(ms),
        "total": sum(ms),
        "p99": ms[min(len(ms) - 1, int(len(ms) * 0.99))] if ms else 0.0,
        "max": ms[-1] if ms else 0.0,
        "gen2": len(gen2),
        "gen2_max": max(gen2, default=0.0),
        "tracked": got["tracked"],
    }


def _post(port: int, body: dict[str, Any]) -> dict[str, Any]:
    import httpx

    r = httpx.post(
        f"http://127.0.0.1:{port}/graphql",
        json=body,
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    )
    got = r.json()
    if "errors" in got:
        raise SystemExit(f"query failed: {got['errors']}")
    return got["data"]


def main(args: argparse.Namespace) -> None:
    from graph.bolt.embedded import free_port

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="twinql-bench-gql-") as tmp_name:
        tmp = Path(tmp_name)
        tport, rport = free_port(), free_port()
        t0 = time.perf_counter()
        twinql = Server(
            "twinql",
            ["--serve", "twinql", "--port", str(tport), "--data-dir", str(tmp / "data"),
             "--assets", str(args.assets), "--heap", args.heap, "--loop", args.loop,
             *(["--no-gc-tuning"] if args.no_gc_tuning else [])],
        )  # fmt: skip
        servers = [twinql]
        try:
            info = twinql.wait_ready()
            print(
                f"twinql ready in {time.perf_counter() - t0:.1f} s: plant {info['counts']}",
                flush=True,
            )
            bodies = {
                "point": {"query": POINT, "variables": {"id": info["sensor"]}},
                "line": {"query": LINE, "variables": {"line": info["line"], "unit": info["unit"]}},
            }
            if args.tree:
                bodies["tree"] = {"query": TREE, "variables": {"line": info["line"]}}
            answers = {name: _post(tport, body) for name, body in bodies.items()}
            (tmp / "answers.json").write_text(json.dumps(answers))
            reference = Server(
                "reference",
                ["--serve", "reference", "--port", str(rport), "--answers", str(tmp / "answers.json"),
                 "--loop", args.loop],
            )  # fmt: skip
            servers.append(reference)
            reference.wait_ready()
            for name, body in bodies.items():
                got = _post(rport, body)
                if json.dumps(got, sort_keys=True) != json.dumps(answers[name], sort_keys=True):
                    raise SystemExit(f"the reference answers {name} differently")
                (tmp / f"{name}.lua").write_text(_lua(body))
            print(
                f"line query answer: {len(json.dumps(answers['line'])):,} bytes, "
                f"{sum(len(n['sensors']) for n in answers['line']['asset']['children']['nodes'])} "
                f"sensors, {len(answers['line']['impact'])} reachable",
                flush=True,
            )
            ports = {"twinql": tport, "reference": rport}
            procs = {"twinql": twinql, "reference": reference}
            rows = [
                (f"point read, wrk c={args.connections}", "point", "wrk"),
                (f"line query, wrk c={args.connections}", "line", "wrk"),
                (f"line query at {args.rate:g} req/s", "line", "rate"),
            ]
            if args.tree:
                rows.insert(2, (f"tree query, wrk c={args.connections}", "tree", "wrk"))
                print(
                    f"tree query answer: {len(json.dumps(answers['tree'])):,} bytes, "
                    f"{len(answers['tree']['asset']['subtree'])} assets",
                    flush=True,
                )
            # warm both (JIT-free Python, but caches, pools and the graph server's plans)
            for name in ports:
                for body in bodies.values():
                    for _ in range(20):
                        _post(ports[name], body)
            gc_pauses(tport)
            results: dict[tuple[str, str], list[dict[str, float]]] = {}
            gcs: dict[str, list[dict[str, float]]] = {}
            for rnd in range(args.rounds):
                for label, key, mode in rows:
                    order = ["twinql", "reference"] if rnd % 2 == 0 else ["reference", "twinql"]
                    for app in order:
                        load = os.getloadavg()[0]
                        cpu0 = procs[app].cpu_seconds()
                        w0 = time.perf_counter()
                        if mode == "wrk":
                            r = run_wrk(
                                ports[app], tmp / f"{key}.lua", args.seconds, args.connections
                            )
                        else:
                            r = asyncio.run(
                                fixed_rate(ports[app], bodies[key], args.rate, args.seconds)
                            )
                        wall = time.perf_counter() - w0
                        cpu = procs[app].cpu_seconds() - cpu0
                        r["cpu"] = cpu / wall
                        r["cpu_ms"] = cpu * 1e3 / max(1.0, r["rps"] * args.seconds)
                        r["load"] = load
                        results.setdefault((label, app), []).append(r)
                        if app == "twinql":
                            g = gc_pauses(tport)
                            g["share"] = g["total"] / 1e3 / max(cpu, 1e-9)
                            gcs.setdefault(label, []).append(g)
                print(f"round {rnd + 1}/{args.rounds} done", flush=True)
            _report(rows, results, gcs)
        finally:
            for s in servers:
                s.stop()


def _report(
    rows: list[tuple[str, str, str]],
    results: dict[tuple[str, str], list[dict[str, float]]],
    gcs: dict[str, list[dict[str, float]]],
) -> None:
    print()
    print(
        f"{'row':<28} {'app':<10} {'req/s min/med':>15} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'cpu':>5} {'cpu ms/req':>10} {'load':>5}"
    )
    for label, _key, mode in rows:
        for app in ("twinql", "reference"):
            rs = results[(label, app)]
            rps = [r["rps"] for r in rs]
            print(
                f"{label:<28} {app:<10} {min(rps):>7.0f}/{statistics.median(rps):<7.0f} "
                f"{statistics.median(r['p50'] for r in rs):>8.1f} "
                f"{statistics.median(r['p99'] for r in rs):>8.1f} "
                f"{statistics.median(r['cpu'] for r in rs):>5.2f} "
                f"{statistics.median(r['cpu_ms'] for r in rs):>10.2f} "
                f"{statistics.median(r['load'] for r in rs):>5.2f}"
            )
        tw, ref = results[(label, "twinql")], results[(label, "reference")]
        if mode == "wrk":
            ratios = [a["rps"] / b["rps"] for a, b in zip(tw, ref, strict=True)]
            what = "twinql / reference req/s"
        else:
            ratios = [a["p99"] / b["p99"] for a, b in zip(tw, ref, strict=True)]
            what = "twinql p99 / reference p99"
        cpu_ratios = [b["cpu_ms"] / a["cpu_ms"] for a, b in zip(tw, ref, strict=True)]
        g = gcs[label]
        print(
            f"  {what}: min {min(ratios):.2f}, median {statistics.median(ratios):.2f}; "
            f"reference / twinql CPU per request: min {min(cpu_ratios):.2f}, "
            f"median {statistics.median(cpu_ratios):.2f}"
        )
        print(
            f"  twinql GC during the row: CPU share {statistics.median(x['share'] for x in g):.1%}, "
            f"pause p99 {statistics.median(x['p99'] for x in g):.1f} ms, "
            f"max {max(x['max'] for x in g):.1f} ms, gen-2 collections "
            f"{sum(x['gen2'] for x in g)} (max {max(x['gen2_max'] for x in g):.1f} ms), "
            f"tracked objects {g[-1]['tracked']:,}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--assets", type=int, default=2_000)
    parser.add_argument("--heap", default="1g", help="graph server heap (default 1g)")
    parser.add_argument(
        "--tree", action="store_true", help="add a row: the line's subtree with latest values"
    )
    parser.add_argument(
        "--loop", choices=["uvloop", "asyncio"], default="uvloop", help="servers' event loop"
    )
    parser.add_argument(
        "--no-gc-tuning",
        action="store_true",
        help="serve twinql without api.common.gc_tuning.settle_heap (to compare)",
    )
    parser.add_argument("--serve", choices=["twinql", "reference"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--answers", type=Path, help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.serve == "twinql":
        serve_twinql(a.port, a.data_dir, a.assets, a.heap, not a.no_gc_tuning, a.loop)
    elif a.serve == "reference":
        serve_reference(a.port, a.answers, a.loop)
    else:
        main(a)
