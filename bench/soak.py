"""Soak: ``twinql serve`` as a real process under a fixed mixed load for a bounded time.

Starts Mosquitto (QoS 1 queues of ``--broker-queue`` messages, as docker/mosquitto.conf) and ``twinql serve`` on a fresh data dir
(embedded graph server and DuckDB, nothing configured: the README's first command),
takes the admin and ingest keys from ``<data>/first-keys.json``, registers ``--sensors``
sensors for HTTP and as many bound to an MQTT data source, then for ``--seconds``
drives ``--http-rate`` readings/s as ``POST /ingest`` batches and ``--mqtt-rate``
readings/s as QoS 1 publishes (one reading per message), both paced against a fixed
schedule with a bounded number of requests/publishes in flight (a sender that falls
behind is late, never queues without bound; the achieved rate is printed beside the
target).

Every reading has its own (sensor, timestamp): timestamps are the wall clock in µs,
bumped per sensor so that none repeats. One in ``--bad-every`` readings is deliberately
bad, in turn: an unknown sensor and a non-numeric value (both rejected), and a value
beyond the sensor's range (accepted, stored with quality bad). Counted:

- accepted: the ``accepted`` of every HTTP answer + MQTT publishes the broker
  acknowledged (PUBACK) whose reading is valid (bad-range ones included);
- rejected: the HTTP answers' ``rejected`` + acknowledged MQTT publishes of rejected
  kinds; checked against twinql's own counter (``serviceStatus.ingest.rejected``);
- stored: per sensor through the GraphQL API while twinql runs
  (``asset.summary(includeBad: true)`` over the run's window), once the pipeline
  drained (twinql's writer counted as many stored and rejected as were accepted and
  rejected, its queue empty; or nothing moved for 60 s, a shortfall the counts show);
- lost = accepted - stored (must be 0); duplicates = rows - distinct (sensor, ts) in
  the DuckDB file, read after twinql stopped (must be 0; its row count must also equal
  the API's stored).

Every ``--sample-every`` seconds a row: elapsed, sent, accepted, rejected, stored (the
writer's counter), queue depth, RSS (VmRSS of /proc/PID/status) of twinql and of its
graph server child (the java process among its descendants). Memory rule: a
least-squares line through twinql's RSS samples of the second half of the run; its rise
over that half, relative to the line's value at the half's start, below 5 % is "flat",
else "GROWING". Exit status 1 when lost or duplicates are not 0, rejected does not match
twinql's counter, or a process outlived the stop (SIGTERM, then up to 120 s). The load
generator runs in this process on the same machine: on 2 cores it competes with twinql,
so the figures are a floor.

    nice -n 5 python bench/soak.py --seconds 600 --http-rate 2000 --mqtt-rate 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import duckdb
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.soak_procs import broker, graph_pid, rss_mb, serve, stop  # noqa: E402
from tests.support.net import free_port  # noqa: E402

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PER_ASSET = 10  # sensors per asset
LOW, HIGH = 0.0, 100.0  # every sensor's measuring range
BAD_KINDS = ("unknown", "nonnumeric", "range")  # the first two are rejected
FLAT_GROWTH = 0.05


# ---- counts ------------------------------------------------------------------------


@dataclass
class Channel:
    """One way in (HTTP or MQTT): what was sent, accepted and rejected, in readings."""

    name: str
    sensors: list[tuple[str, str, str]]  # (asset id, sensor id, MQTT address)
    sent: int = 0
    accepted: int = 0
    rejected: int = 0
    failed: int = 0  # refused as a whole (HTTP non-200, MQTT publish error): not accepted
    bad_range: int = 0  # accepted, stored with quality bad
    late: float = 0.0  # the most the sender fell behind its schedule, s
    last_us: dict[str, int] = field(default_factory=dict)

    def stamp(self, sensor: str) -> str:
        us = max(time.time_ns() // 1000, self.last_us.get(sensor, 0) + 1)
        self.last_us[sensor] = us
        return (EPOCH + timedelta(microseconds=us)).isoformat()

    def reading(self, k: int, bad_every: int) -> tuple[str, str, str, object, str, str]:
        """Reading ``k``: (asset, sensor id, address, value, timestamp, kind)."""
        asset, sensor, address = self.sensors[k % len(self.sensors)]
        ts = self.stamp(sensor)
        kind = BAD_KINDS[(k // bad_every) % 3] if k % bad_every == bad_every - 1 else "good"
        value: object = float(k % 97)
        if kind == "unknown":
            sensor, address = f"{asset}-nosuch", "nosuch"
        elif kind == "nonnumeric":
            value = "n/a"
        elif kind == "range":
            value = HIGH * 10
        return asset, sensor, address, value, ts, kind


async def pace(
    rate: float,
    seconds: float,
    chunk: int,
    inflight: int,
    send: Callable[[int, int], Awaitable[None]],
    ch: Channel,
) -> None:
    """Call ``send(k0, n)`` for chunks of ``chunk`` readings on a fixed schedule (``rate``
    readings/s from now for ``seconds``), at most ``inflight`` unfinished at once."""
    if rate <= 0:
        return
    window = asyncio.Semaphore(inflight)
    tasks: set[asyncio.Task[None]] = set()

    async def one(k0: int, n: int) -> None:
        try:
            await send(k0, n)
        finally:
            window.release()

    t0 = time.perf_counter()
    total = int(rate * seconds)
    for k0 in range(0, total, chunk):
        due = t0 + k0 / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        await window.acquire()
        ch.late = max(ch.late, time.perf_counter() - due)
        if time.perf_counter() - t0 >= seconds:
            window.release()
            break
        n = min(chunk, total - k0)
        ch.sent += n
        task = asyncio.create_task(one(k0, n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


async def drive_http(
    http: httpx.AsyncClient, key: str, ch: Channel, args: argparse.Namespace
) -> None:
    async def send(k0: int, n: int) -> None:
        rows = [ch.reading(k, args.bad_every) for k in range(k0, k0 + n)]
        body = [{"sensor_id": s, "value": v, "timestamp": ts} for _, s, _, v, ts, _ in rows]
        expected = sum(1 for r in rows if r[5] in ("unknown", "nonnumeric"))
        r = await http.post(
            "/ingest",
            content=json.dumps(body),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        if r.status_code != 200:
            ch.failed += n
            print(f"  HTTP {r.status_code}: {r.text[:200]}", flush=True)
            return
        answer = r.json()
        ch.accepted += answer["accepted"]
        ch.rejected += answer["rejected"]
        ch.bad_range += sum(1 for row in rows if row[5] == "range")
        if answer["rejected"] != expected:
            print(f"  HTTP rejected {answer['rejected']}, expected {expected}", flush=True)

    await pace(args.http_rate, args.seconds, args.http_batch, args.http_inflight, send, ch)


async def drive_mqtt(port: int, ch: Channel, args: argparse.Namespace) -> None:
    inflight = args.mqtt_inflight
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=inflight) as client:
        client.pending_calls_threshold = inflight + 10  # the window is deliberate

        async def send(k0: int, n: int) -> None:
            asset, _, address, value, ts, kind = ch.reading(k0, args.bad_every)
            topic = f"assets/{asset}/sensors/{address}/data"
            try:
                await client.publish(topic, json.dumps({"value": value, "timestamp": ts}), qos=1)
            except aiomqtt.MqttError as exc:
                ch.failed += 1
                print(f"  MQTT publish failed: {exc}", flush=True)
                return
            if kind in ("unknown", "nonnumeric"):
                ch.rejected += 1
            else:
                ch.accepted += 1
                ch.bad_range += kind == "range"

        await pace(args.mqtt_rate, args.seconds, 1, inflight, send, ch)


async def broker_dropped(port: int, seen: list[int]) -> None:
    """Keep the broker's count of publishes it dropped (queue limits) in ``seen[0]``."""
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe("$SYS/broker/publish/messages/dropped")
        async for message in client.messages:
            seen[0] = int(bytes(message.payload))


# ---- the service's side ------------------------------------------------------------


class Api:
    def __init__(self, http: httpx.AsyncClient, admin: str) -> None:
        self.http, self.admin = http, admin

    async def gql(self, query: str, variables: dict[str, object] | None = None) -> dict[str, Any]:
        r = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"Authorization": f"Bearer {self.admin}"},
        )
        body = r.json()
        if body.get("errors"):
            raise RuntimeError(body["errors"])
        return dict(body["data"])

    async def ingest_status(self) -> dict[str, float]:
        data = await self.gql(
            "{ serviceStatus { ingest { stored rejected queueDepth lagSeconds } } }"
        )
        return dict(data["serviceStatus"]["ingest"])

    async def connector(self) -> dict[str, Any]:
        data = await self.gql(
            '{ dataSourceStatus(id: "soak-mqtt") { state messages readings errors reconnects '
            "restarts overflows pauses lastError } }"
        )
        return dict(data["dataSourceStatus"] or {})

    async def stored(self, assets: list[str], start: datetime, end: datetime) -> int:
        total = 0
        for asset in assets:
            data = await self.gql(
                "query($id: ID!, $from: DateTime!, $to: DateTime!) { asset(id: $id) "
                "{ summary(from: $from, to: $to, includeBad: true) { count } } }",
                {"id": asset, "from": start.isoformat(), "to": end.isoformat()},
            )
            total += sum(s["count"] for s in data["asset"]["summary"])
        return total


def layout(prefix: str, n: int) -> list[tuple[str, str, str]]:
    return [(f"soak-{prefix}{i // PER_ASSET}", f"soak-{prefix}{i // PER_ASSET}-s{i % PER_ASSET}",
             f"s{i % PER_ASSET}") for i in range(n)]  # fmt: skip


async def register(api: Api, http_ch: Channel, mqtt_ch: Channel, mqtt_port: int) -> None:
    assets = [{"id": "soak-site", "name": "soak", "type": "site", "level": "SITE"}]
    sensors = []
    for asset, sensor, address in http_ch.sensors + mqtt_ch.sensors:
        if assets[-1]["id"] != asset:
            assets.append({"id": asset, "name": asset, "type": "pump", "level": "EQUIPMENT",
                           "parentId": "soak-site"})  # fmt: skip
        sensors.append({"id": sensor, "assetId": asset, "name": address, "kind": "pressure",
                        "unit": "bar", "minValue": LOW, "maxValue": HIGH})  # fmt: skip
    await api.gql(
        "mutation($a: [AssetInput!]!, $s: [SensorInput!]!) "
        "{ upsertAssets(assets: $a) { id } upsertSensors(sensors: $s) { id } }",
        {"a": assets, "s": sensors},
    )
    source = {"id": "soak-mqtt", "protocol": "MQTT", "endpoint": f"mqtt://127.0.0.1:{mqtt_port}",
              "sensorBindings": [{"sensorId": s, "address": a} for _, s, a in mqtt_ch.sensors]}  # fmt: skip
    await api.gql("mutation($s: DataSourceInput!) { upsertDataSource(source: $s) { id } }",
                  {"s": source})  # fmt: skip
    for _ in range(600):
        data = await api.gql('{ dataSourceStatus(id: "soak-mqtt") { state } }')
        if (data["dataSourceStatus"] or {}).get("state") == "CONNECTED":
            return
        await asyncio.sleep(0.1)
    raise RuntimeError("the MQTT data source did not connect")


# ---- the run -----------------------------------------------------------------------


@dataclass
class Sample:
    elapsed: float
    sent: int
    accepted: int
    rejected: int
    stored: int
    queue: int
    rss_twinql: float
    rss_graph: float


HEADER = (
    f"{'elapsed s':>9} {'sent':>10} {'accepted':>10} {'rejected':>8} {'stored':>10} "
    f"{'queue':>6} {'RSS twinql MB':>13} {'RSS graph MB':>12}"
)


async def sample(api: Api, t0: float, pids: tuple[int, int | None], chs: list[Channel]) -> Sample:
    status = await api.ingest_status()
    s = Sample(
        time.perf_counter() - t0,
        sum(c.sent for c in chs),
        sum(c.accepted for c in chs),
        sum(c.rejected for c in chs),
        int(status["stored"]),
        int(status["queueDepth"]),
        rss_mb(pids[0]),
        rss_mb(pids[1]),
    )
    print(
        f"{s.elapsed:9.0f} {s.sent:10d} {s.accepted:10d} {s.rejected:8d} {s.stored:10d} "
        f"{s.queue:6d} {s.rss_twinql:13.1f} {s.rss_graph:12.1f}",
        flush=True,
    )
    return s


async def sampler(
    api: Api, every: float, pids: tuple[int, int | None], chs: list[Channel], out: list[Sample]
) -> None:
    t0 = time.perf_counter()
    while True:
        out.append(await sample(api, t0, pids, chs))
        await asyncio.sleep(every - (time.perf_counter() - t0) % every)


async def drain(api: Api, chs: list[Channel], within: float, still_s: int = 60) -> float:
    """Until twinql's writer stored and rejected as many readings as were accepted and
    rejected, with its queue empty (twice in a row), or nothing moved for ``still_s``
    seconds (a shortfall, said and then shown by the counts); the seconds it took."""
    t0 = time.perf_counter()
    accepted = sum(c.accepted for c in chs)
    rejected = sum(c.rejected for c in chs)
    done = still = 0
    last: tuple[float, float] = (-1.0, -1.0)
    while time.perf_counter() - t0 < within:
        status = await api.ingest_status()
        now = (status["stored"], status["rejected"])
        idle = status["queueDepth"] == 0
        done = done + 1 if idle and now[0] >= accepted and now[1] >= rejected else 0
        still = still + 1 if idle and now == last else 0
        if done >= 2:
            break
        if still >= still_s:
            print(f"drain: nothing moved for {still_s} s; stored {now[0]:.0f} of {accepted}, "
                  f"rejected {now[1]:.0f} of {rejected}", flush=True)  # fmt: skip
            break
        last = now
        await asyncio.sleep(1)
    else:
        print(f"drain: not settled within {within:g} s", flush=True)
    return time.perf_counter() - t0


def memory(samples: list[Sample], seconds: float) -> tuple[float, float, bool]:
    """twinql's RSS slope over the second half (MB/min), its rise over that half relative
    to the fitted start of the half, and whether that rise is below FLAT_GROWTH."""
    half = [s for s in samples if s.elapsed >= seconds / 2 and s.rss_twinql == s.rss_twinql]
    if len(half) < 2:
        return float("nan"), float("nan"), False
    t = np.array([s.elapsed / 60 for s in half])
    slope, intercept = np.polyfit(t, np.array([s.rss_twinql for s in half]), 1)
    rise = slope * (t[-1] - t[0]) / (slope * t[0] + intercept)
    return float(slope), float(rise), bool(rise < FLAT_GROWTH)


def store_counts(path: Path) -> tuple[int, int, int]:
    """(rows, distinct (sensor, ts), rejected rows) of the soak's sensors in the file."""
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT count(*), count(DISTINCT (sensor_id, ts)) FROM readings "
            "WHERE sensor_id LIKE $p",
            {"p": "soak-%"},
        ).fetchone()
        rejected = conn.execute("SELECT count(*) FROM rejected_readings").fetchone()
    assert rows is not None and rejected is not None
    return int(rows[0]), int(rows[1]), int(rejected[0])


async def run(args: argparse.Namespace, work: Path) -> int:
    mqtt_port, port, data, log = free_port(), free_port(), work / "data", work / "twinql.log"
    mosquitto = broker(work, mqtt_port, args.broker_queue)
    proc = serve(data, port, log, args.graph_heap)
    failures: list[str] = []
    http_ch = Channel("HTTP", layout("h", args.sensors))
    mqtt_ch = Channel("MQTT", layout("m", args.sensors))
    samples: list[Sample] = []
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}",
            timeout=120,
            limits=httpx.Limits(max_connections=args.http_inflight + 2),
        ) as http:
            started = time.perf_counter()
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"twinql exited ({proc.returncode}):\n{log.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get("/readyz")).status_code == 200:
                        break
                if time.perf_counter() - started > 300:
                    raise RuntimeError(f"twinql not ready in 300 s:\n{log.read_text()}")
                await asyncio.sleep(0.2)
            keys = json.loads((data / "first-keys.json").read_text())
            admin = next(k["key"] for k in keys if k["role"] == "admin")
            ingest_key = next(k["key"] for k in keys if k["role"] == "ingest")
            api = Api(http, admin)
            await register(api, http_ch, mqtt_ch, mqtt_port)
            gpid = graph_pid(proc.pid)
            print(
                f"twinql pid {proc.pid} (graph server pid {gpid}) ready in "
                f"{time.perf_counter() - started:.1f} s; {args.sensors} HTTP + {args.sensors} "
                f"MQTT sensors; {args.seconds:g} s at {args.http_rate:g}/s HTTP (batches of "
                f"{args.http_batch}) + {args.mqtt_rate:g}/s MQTT QoS 1; 1 in {args.bad_every} "
                f"bad; load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )
            print(HEADER, flush=True)
            window_start = datetime.now(UTC) - timedelta(minutes=1)
            t0 = time.perf_counter()
            pids = (proc.pid, gpid)
            watch = asyncio.create_task(
                sampler(api, args.sample_every, pids, [http_ch, mqtt_ch], samples)
            )
            dropped = [0]
            sys_watch = asyncio.create_task(broker_dropped(mqtt_port, dropped))
            await asyncio.gather(
                drive_http(http, ingest_key, http_ch, args), drive_mqtt(mqtt_port, mqtt_ch, args)
            )
            load_s = time.perf_counter() - t0
            watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watch
            samples.append(await sample(api, t0, pids, [http_ch, mqtt_ch]))
            drained = await drain(api, [http_ch, mqtt_ch], args.drain_timeout)
            end = datetime.now(UTC) + timedelta(minutes=1)
            stored_http = await api.stored(
                sorted({a for a, _, _ in http_ch.sensors}), window_start, end
            )
            stored_mqtt = await api.stored(
                sorted({a for a, _, _ in mqtt_ch.sensors}), window_start, end
            )
            status = await api.ingest_status()
            connector = await api.connector()
            samples.append(await sample(api, t0, pids, [http_ch, mqtt_ch]))
            await asyncio.sleep(1.5)  # one more $SYS interval
            sys_watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sys_watch
    finally:
        left = stop(proc)
        mosquitto.terminate()
        mosquitto.wait(10)
    if left:
        failures.append(f"processes outlived the stop: {left}")
    rows, distinct, rejected_rows = store_counts(data / "readings.duckdb")
    print(f"MQTT connector: {connector}; publishes the broker dropped: {dropped[0]}")
    report(args, http_ch, mqtt_ch, samples, load_s, drained, failures,
           (stored_http, stored_mqtt, int(status["rejected"]), rows, distinct, rejected_rows))  # fmt: skip
    return 1 if failures else 0


def report(
    args: argparse.Namespace,
    http_ch: Channel,
    mqtt_ch: Channel,
    samples: list[Sample],
    load_s: float,
    drained: float,
    failures: list[str],
    counts: tuple[int, int, int, int, int, int],
) -> None:
    stored_http, stored_mqtt, twinql_rejected, rows, distinct, rejected_rows = counts
    stored = (stored_http, stored_mqtt)
    accepted = http_ch.accepted + mqtt_ch.accepted
    rejected = http_ch.rejected + mqtt_ch.rejected
    lost = accepted - sum(stored)
    duplicates = rows - distinct
    print(f"\nload {load_s:.1f} s, drained in {drained:.1f} s")
    print(f"{'':30} {'HTTP':>10} {'MQTT':>10} {'total':>10}")

    def line(name: str, a: float, b: float, fmt: str = "d") -> None:
        print(f"{name:30} {a:>10{fmt}} {b:>10{fmt}} {a + b:>10{fmt}}")

    line("target readings/s", args.http_rate, args.mqtt_rate, ".0f")
    line("achieved readings/s (sent)", http_ch.sent / load_s, mqtt_ch.sent / load_s, ".0f")
    print(f"{'most behind schedule, s':30} {http_ch.late:>10.2f} {mqtt_ch.late:>10.2f}")
    for name, attr in (("sent", "sent"), ("accepted", "accepted"), ("  of which out of range", "bad_range"),
                       ("rejected", "rejected"), ("failed (not accepted)", "failed")):  # fmt: skip
        line(name, getattr(http_ch, attr), getattr(mqtt_ch, attr))
    line("stored (GraphQL summary)", *stored)
    line("lost = accepted - stored", http_ch.accepted - stored_http, mqtt_ch.accepted - stored_mqtt)
    print(f"rejected: counted {rejected}, twinql's counter {twinql_rejected}, "
          f"rejected_readings rows {rejected_rows}")  # fmt: skip
    print(f"store file after stop: {rows} rows, {distinct} distinct (sensor, ts): "
          f"duplicates {duplicates}")  # fmt: skip
    first, last = samples[0], samples[-1]
    slope, rise, flat = memory([s for s in samples if s.elapsed <= load_s + 1], load_s)
    print(f"RSS twinql first {first.rss_twinql:.1f} MB, last {last.rss_twinql:.1f} MB; graph "
          f"server first {first.rss_graph:.1f} MB, last {last.rss_graph:.1f} MB")  # fmt: skip
    print(f"RSS twinql over the second half: slope {slope:+.2f} MB/min, rise {100 * rise:+.1f} % "
          f"-> {'flat' if flat else 'GROWING'} (flat: rise < {100 * FLAT_GROWTH:.0f} %)")  # fmt: skip
    if lost:
        failures.append(f"lost {lost}")
    if duplicates:
        failures.append(f"duplicates {duplicates}")
    if rejected != twinql_rejected:
        failures.append(f"rejected {rejected} but twinql counted {twinql_rejected}")
    if rows != sum(stored):
        failures.append(f"the store file holds {rows} rows, the API counted {sum(stored)}")
    print("RESULT: " + ("FAIL: " + "; ".join(failures) if failures else "ok"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=600.0, help="how long the load runs")
    p.add_argument("--http-rate", type=float, default=2000.0, help="readings/s over HTTP")
    p.add_argument("--mqtt-rate", type=float, default=500.0, help="readings/s over MQTT")
    p.add_argument("--sensors", type=int, default=100, help="sensors per channel")
    p.add_argument("--sample-every", type=float, default=30.0, help="seconds between samples")
    p.add_argument("--http-batch", type=int, default=100, help="readings per POST /ingest")
    p.add_argument("--http-inflight", type=int, default=4, help="POSTs awaiting an answer")
    p.add_argument("--mqtt-inflight", type=int, default=100, help="publishes awaiting PUBACK")
    p.add_argument("--bad-every", type=int, default=200, help="1 in N readings is bad")
    p.add_argument("--drain-timeout", type=float, default=300.0)
    p.add_argument(
        "--broker-queue", type=int, default=100_000, help="mosquitto max_queued_messages"
    )
    p.add_argument("--keep", action="store_true", help="keep the work dir (kept on failure)")
    p.add_argument("--graph-heap", default=None, help="TWINQL_GRAPH_HEAP (default: twinql's)")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stop like Ctrl-C: cleaned up
    work = Path(tempfile.mkdtemp(prefix="twinql-soak-"))
    code = 1
    try:
        code = asyncio.run(run(args, work))
    finally:
        if code == 0 and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work} (twinql.log, mosquitto.log, data/)")
    sys.exit(code)


if __name__ == "__main__":
    main()
