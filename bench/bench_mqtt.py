"""MQTT -> pipeline -> store -> GraphQL subscriber, measured end to end, in-process.

Starts the app (embedded graph server, DuckDB in a temp data dir) with its own mosquitto
on a free port, registers ``--assets`` x ``--sensors`` sensors fed by one MQTT data
source on the default broker, and one GraphQL WebSocket subscriber on the whole site.

Two message shapes:
- single: one reading per message on ``assets/{a}/sensors/{s}/data``;
- batch: one ``assets/{a}/telemetry`` message holding every sensor of the asset.

Devices publish at QoS 1 (the issue's setting; ``--inflight`` publishes awaiting their
PUBACK at once). For each shape: a fixed-rate phase (``--rate`` readings/s for
``--seconds``) gives the publish-to-subscriber latency p50/p99 (reading timestamp =
publish time), and a flood phase (as fast as the publisher goes) gives the sustained
readings/s received by the subscriber and stored. Readings the subscription skipped
(``missed`` markers of a slow subscriber) and phases that did not complete within their
wait are printed as such: a rate is only called sustained when everything arrived.
Publisher, broker client, app and subscriber share one process (and the broker one
more), so the figures are a floor for a split deployment.

The reference, run in the same process alternately with twinql over ``--rounds``
rounds: a bare aiomqtt subscriber (QoS 1) that decodes each message's JSON, fed by the
same publisher on a ``ref/`` topic prefix the app does not subscribe to. Each round
prints twinql's figures, the reference's and their ratio; the closing lines give the
min and median ratio per figure and the machine's load average.
``--no-subscriber`` measures twinql without one (stored readings only, so no latency).
``--subscription`` picks the GraphQL field: ``liveReadings`` (one object per reading)
or ``liveReadingBatches`` (columnar: ids, timestamps, values, qualities as arrays).

    python bench/bench_mqtt.py --seconds 3 --rate 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import aiomqtt
import numpy as np
import uvicorn
import websockets

from api.app import create_app
from api.services.container import Services
from api.settings import Settings

TOKEN = "bench-admin-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_mosquitto(workdir: Path, inflight: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"
        f"max_queued_messages 1000000\nmax_inflight_messages {inflight}\n"
    )
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    proc = subprocess.Popen([binary, "-c", str(conf)], stderr=subprocess.DEVNULL)
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.02)
    raise RuntimeError("mosquitto did not start")


async def gql(client: object, query: str, variables: dict[str, object]) -> dict[str, object]:
    r = await client.post(  # type: ignore[attr-defined]
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    body = r.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


async def register(client: object, assets: int, sensors: int) -> list[tuple[str, list[str]]]:
    a_in = [{"id": "bench-site", "name": "site", "type": "site", "level": "SITE"}]
    s_in = []
    layout = []
    for i in range(assets):
        aid = f"bench-a{i}"
        a_in.append(
            {"id": aid, "name": aid, "type": "pump", "level": "EQUIPMENT", "parentId": "bench-site"}
        )
        names = [f"s{j}" for j in range(sensors)]
        for n in names:
            s_in.append({"id": f"{aid}-{n}", "assetId": aid, "name": n, "kind": "k", "unit": "u"})
        layout.append((aid, names))
    await gql(
        client,
        "mutation($a: [AssetInput!]!, $s: [SensorInput!]!) "
        "{ upsertAssets(assets: $a) { id } upsertSensors(sensors: $s) { id } }",
        {"a": a_in, "s": s_in},
    )
    bindings = [{"sensorId": s["id"], "address": s["name"]} for s in s_in]
    await gql(
        client,
        "mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id } }",
        {
            "s": {
                "id": "bench-broker",
                "protocol": "MQTT",
                "endpoint": "",
                "sensorBindings": bindings,
            }
        },
    )
    return layout


QUERIES = {
    "liveReadings": (
        'subscription { liveReadings(assetId: "bench-site", buffer: 10000) '
        "{ readings { timestamp } missed } }"
    ),
    "liveReadingBatches": (
        'subscription { liveReadingBatches(assetId: "bench-site", buffer: 10000) '
        "{ timestamps missed } }"
    ),
}


class Subscriber:
    def __init__(self, field: str) -> None:
        self.field = field
        self.received = 0
        self.missed = 0  # readings the server skipped for this subscriber (missed markers)
        self.latencies: list[float] = []
        self.record = False

    async def run(self, base: str, ready: asyncio.Event) -> None:
        url = base.replace("http://", "ws://") + "/graphql"
        sub = QUERIES[self.field]
        async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {TOKEN}"}}
            await ws.send(json.dumps(init))
            await ws.recv()
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": sub}}))
            ready.set()
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("type") != "next":
                    continue
                now = time.time()
                live = msg["payload"]["data"][self.field]
                if self.field == "liveReadings":
                    stamps = [r["timestamp"] for r in live["readings"]]
                else:
                    stamps = live["timestamps"]
                self.received += len(stamps)
                self.missed += int(live.get("missed") or 0)
                if self.record:
                    for ts in stamps:
                        self.latencies.append(now - datetime.fromisoformat(ts).timestamp())


class RefSubscriber:
    """The reference: aiomqtt at QoS 1 on ``ref/#``, decoding each message's JSON."""

    def __init__(self) -> None:
        self.received = 0
        self.missed = 0
        self.latencies: list[float] = []
        self.record = False

    async def run(self, port: int, ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", port, max_queued_incoming_messages=0) as c:
            await c.subscribe("ref/#", qos=1)
            ready.set()
            async for message in c.messages:
                now = time.time()
                doc = json.loads(message.payload)
                values = doc.get("values")
                n = len(values) if values is not None else 1
                self.received += n
                if self.record:
                    lat = now - datetime.fromisoformat(doc["timestamp"]).timestamp()
                    self.latencies.extend([lat] * n)


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


async def publish(
    port: int,
    layout: list[tuple[str, list[str]]],
    shape: str,
    readings: int,
    rate: float | None,
    inflight: int,
    prefix: str = "",
) -> int:
    """Publish ``readings`` readings at QoS 1, paced at ``rate`` readings/s (None: flat
    out), with at most ``inflight`` publishes awaiting their PUBACK."""
    per_msg = len(layout[0][1]) if shape == "batch" else 1
    messages = max(1, readings // per_msg)
    sent = 0
    start = time.perf_counter()
    window = asyncio.Semaphore(max(1, inflight))
    pending: set[asyncio.Task[None]] = set()

    async def one(c: aiomqtt.Client, topic: str, payload: str) -> None:
        try:
            await c.publish(topic, payload, qos=1)
        finally:
            window.release()

    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=max(1, inflight)) as c:
        c.pending_calls_threshold = max(10, inflight + 1)  # the window is deliberate: no warning
        for k in range(messages):
            aid, names = layout[k % len(layout)]
            now = time.time()
            if shape == "single":
                name = names[(k // len(layout)) % len(names)]
                topic = f"{prefix}assets/{aid}/sensors/{name}/data"
                payload = json.dumps({"value": float(k % 1000), "timestamp": _stamp(now)})
            else:
                values = {n: float((k + j) % 1000) for j, n in enumerate(names)}
                topic = f"{prefix}assets/{aid}/telemetry"
                payload = json.dumps({"timestamp": _stamp(now), "values": values})
            await window.acquire()
            task = asyncio.create_task(one(c, topic, payload))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += per_msg
            if rate is not None:
                due = start + sent / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
        if pending:
            await asyncio.gather(*pending)  # every PUBACK in: the broker has them all
    return sent


class StoreWatch:
    """Stands in for the GraphQL subscriber with ``--no-subscriber``: what counts as
    received is what the store has (no latency: nothing is delivered live)."""

    def __init__(self, stored: Callable[[], int]) -> None:
        self._stored = stored
        self.latencies: list[float] = []
        self.record = False
        self.missed = 0

    @property
    def received(self) -> int:
        return self._stored()


async def wait_for(
    sub: Subscriber | RefSubscriber | StoreWatch,
    stored_now: Callable[[], int],
    target_rx: int,
    target_stored: int,
    within: float,
) -> tuple[float, int, int, bool]:
    """Wait until the subscriber got (or was told it missed) ``target_rx`` readings and
    ``stored_now()`` reached ``target_stored``; the last value is False on a timeout."""
    t0 = time.perf_counter()
    done = False
    while time.perf_counter() - t0 < within:
        if sub.received + sub.missed >= target_rx and stored_now() >= target_stored:
            done = True
            break
        await asyncio.sleep(0.005)
    return time.perf_counter(), sub.received, stored_now(), done


def shortfall(
    shape: str, phase: str, sent: int, got: int, missed: int, stored: int, done: bool, wait: float
) -> str | None:
    """What went missing in a phase, or None when every reading arrived and was stored."""
    problems = []
    if not done:
        problems.append(f"TIMEOUT after {wait:g}s")
    if missed:
        problems.append(f"subscriber missed {missed} (missed markers)")
    if got < sent:
        problems.append(f"subscriber got {got} of {sent}")
    if stored < sent:
        problems.append(f"store has {stored} of {sent}")
    if not problems:
        return None
    return f"[{shape:6}] {phase}: INCOMPLETE: " + "; ".join(problems)


async def phases(
    who: str,
    sub: Subscriber | RefSubscriber | StoreWatch,
    stored_now: Callable[[], int],
    mport: int,
    layout: list[tuple[str, list[str]]],
    shape: str,
    args: argparse.Namespace,
) -> tuple[float, float, float]:
    """The fixed-rate phase (latency p50) then the flood (readings/s, and CPU time of
    this process per reading: publisher included, the same for both; a figure the
    machine's load moves less than rates); nan when a phase lost readings."""
    prefix = "ref/" if who == "reference" else ""
    sub.latencies.clear()
    sub.record = True
    rx0, st0, m0 = sub.received, stored_now(), sub.missed
    n = int(args.rate * args.seconds)
    sent = await publish(mport, layout, shape, n, args.rate, args.inflight, prefix)
    _, rx, stored, done = await wait_for(sub, stored_now, rx0 + sent, st0 + sent, 30)
    sub.record = False
    lat = np.array(sub.latencies) * 1000
    got, missed = rx - rx0, sub.missed - m0
    p50, p99 = np.percentile(lat, [50, 99]) if len(lat) else (float("nan"),) * 2
    problem = shortfall(shape, f"{who} fixed", sent, got, missed, stored - st0, done, 30)
    if problem:
        print(problem)
        p50 = float("nan")
    rx0, st0, m0 = sub.received, stored_now(), sub.missed
    t0, cpu0 = time.perf_counter(), time.process_time()
    sent = await publish(mport, layout, shape, args.flood, None, args.inflight, prefix)
    t_pub = time.perf_counter() - t0
    t_end, rx, stored, done = await wait_for(sub, stored_now, rx0 + sent, st0 + sent, 60)
    took = t_end - t0
    cpu_us = (time.process_time() - cpu0) / max(sent, 1) * 1e6  # this process, all threads
    got, missed = rx - rx0, sub.missed - m0
    problem = shortfall(shape, f"{who} flood", sent, got, missed, stored - st0, done, 60)
    rate = float("nan") if problem else min(got, stored - st0) / took
    if problem:
        print(problem)
    print(
        f"  [{shape:6}] {who:9s} latency at {args.rate:.0f}/s p50 {p50:6.1f} ms p99 "
        f"{p99:6.1f} ms; flood {sent} published in {t_pub:.2f}s, all in {took:.2f}s "
        f"-> {rate:>9,.0f} readings/s; CPU {cpu_us:.0f} us/reading"
    )
    return float(p50), rate, cpu_us


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="twinql-bench-mqtt-"))
    broker, mport = start_mosquitto(workdir, args.broker_inflight)
    port = free_port()
    settings = Settings(
        data_dir=workdir / "data",
        port=port,
        mqtt_url=f"mqtt://127.0.0.1:{mport}",
        tokens=f"{TOKEN}:admin:bench",
        anonymous_read=False,
        graph_heap="512m",
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            ws="websockets-sansio",
        )
    )
    task = asyncio.create_task(server.serve())
    import httpx

    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        services: Services = app.state.services
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            layout = await register(client, args.assets, args.sensors)
            manager = services.connectors
            assert manager is not None
            for _ in range(200):
                st = manager.status("bench-broker")
                if st is not None and st.state.value == "connected":
                    break
                await asyncio.sleep(0.05)

            def stored() -> int:
                return services.ingest.stats().stored

            ref = RefSubscriber()
            ready, ref_ready = asyncio.Event(), asyncio.Event()
            sub: Subscriber | StoreWatch
            if args.no_subscriber:
                sub = StoreWatch(stored)
                ready.set()
                tasks = []
            else:
                sub = Subscriber(args.subscription)
                tasks = [asyncio.create_task(sub.run(base, ready))]
            tasks.append(asyncio.create_task(ref.run(mport, ref_ready)))
            await ready.wait()
            await ref_ready.wait()
            await asyncio.sleep(0.3)
            print(
                f"sensors: {args.assets} assets x {args.sensors}; rate {args.rate}/s "
                f"for {args.seconds}s; flood {args.flood} readings; subscription "
                f"{'none (stored only)' if args.no_subscriber else args.subscription}; "
                f"{args.rounds} rounds; load {os.getloadavg()}"
            )

            def received() -> int:
                return ref.received

            ratios: dict[str, list[float]] = {}
            for r in range(args.rounds):
                print(f"round {r + 1} (load {os.getloadavg()[0]:.2f})")
                for shape in args.shapes.split(","):
                    p50, rate, cpu = await phases("twinql", sub, stored, mport, layout, shape, args)
                    rp50, rrate, rcpu = await phases(
                        "reference", ref, received, mport, layout, shape, args
                    )
                    ratios.setdefault(f"{shape} throughput twinql/ref", []).append(rate / rrate)
                    ratios.setdefault(f"{shape} CPU/reading ref/twinql", []).append(rcpu / cpu)
                    ratios.setdefault(f"{shape} p50 latency ms (twinql)", []).append(p50)
                    ratios.setdefault(f"{shape} p50 latency ms (ref)", []).append(rp50)
            print(f"summary over {args.rounds} rounds (load {os.getloadavg()}):")
            for name, xs in ratios.items():
                print(f"  {name:34s} min {min(xs):7.2f}  median {statistics.median(xs):7.2f}")
            for t in tasks:
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            status = manager.status("bench-broker")
            print(
                f"connector: messages {status.messages} readings {status.readings} "  # type: ignore[union-attr]
                f"errors {status.errors} overflows {status.overflows} read pauses "  # type: ignore[union-attr]
                f"{status.pauses}; writer {services.ingest.stats()}"  # type: ignore[union-attr]
            )
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task
        broker.terminate()
        broker.wait(timeout=5)
        shutil.rmtree(workdir, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the bench process: {peak:.0f} MiB")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--assets", type=int, default=10)
    p.add_argument("--sensors", type=int, default=20, help="sensors per asset")
    p.add_argument("--rate", type=float, default=1000.0, help="readings/s in the fixed phase")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--flood", type=int, default=20_000, help="readings in the flood phase")
    p.add_argument(
        "--inflight", type=int, default=100, help="QoS 1 publishes awaiting their PUBACK at once"
    )
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--shapes", default="single,batch", help="single, batch or both")
    p.add_argument(
        "--broker-inflight",
        type=int,
        default=20,
        help="mosquitto max_inflight_messages (its default 20): QoS 1 messages sent to a "
        "client awaiting its PUBACK; twinql acknowledges once durable, so this window "
        "over the durable latency bounds a single connector's rate",
    )
    p.add_argument("--subscription", choices=sorted(QUERIES), default="liveReadings")
    p.add_argument(
        "--no-subscriber",
        action="store_true",
        help="no GraphQL subscriber: twinql's figures are readings stored (no latency)",
    )
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
