"""Benchmark: what the demo plant costs while it idles.

1. The physics alone: mean wall time of one 10 Hz tick of the example plant
   (every model group stepped once, line, building, snapshot with noise), at speed-up
   1 and 60 (timed without tracemalloc; a second pass traces the peak allocation).
2. The whole demo device side for ``--seconds``: OPC UA, Modbus TCP and MQTT devices
   (Mosquitto when installed) plus the project's connectors reading them, in one
   process; CPU time over wall time (share of one core), readings received, peak RSS.

    python bench/bench_demo.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import tracemalloc

from api.cli import EXAMPLE_PLANT
from api.demo import DemoDevices, DemoPlant, DemoSettings
from graph.plantfile import load_plant_file
from ingest.connectors import Bindings, make_connector
from ingest.reading import RawReading


def bench_ticks(speedup: float, ticks: int = 2000) -> None:
    plant = DemoPlant(load_plant_file(EXAMPLE_PLANT), seed=1, speedup=speedup)
    started = time.perf_counter()
    for _ in range(ticks):
        plant.advance(0.1)
    elapsed = time.perf_counter() - started
    tracemalloc.start()  # a separate pass: tracing slows the ticks down
    for _ in range(min(ticks, 100)):
        plant.advance(0.1)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    per = elapsed / ticks
    print(
        f"physics tick (speed-up {speedup:g}x, {len(plant.sensor_ids)} sensors): "
        f"{per * 1e3:.3f} ms/tick = {per * 10 * 100:.2f} % of one core at 10 Hz; "
        f"traced peak {peak / 1e6:.2f} MB"
    )


async def bench_devices(seconds: float) -> None:
    plant = load_plant_file(EXAMPLE_PLANT)
    sensor_asset = {s.id: s.asset_id for s in plant.sensors}
    actuator_asset = {a.id: a.asset_id for a in plant.actuators}
    received = 0

    async def sink(batch: list[RawReading]) -> None:
        nonlocal received
        received += len(batch)

    async with DemoDevices(plant, DemoSettings(seed=1)) as devices:
        connectors = []
        for source in devices.sources():
            bindings = Bindings.of(
                [
                    (b, sensor_asset[b.sensor_id])
                    for b in plant.sensor_bindings
                    if b.source_id == source.id
                ],
                [
                    (b, actuator_asset[b.actuator_id])
                    for b in plant.actuator_bindings
                    if b.source_id == source.id
                ],
            )
            c = make_connector(source, bindings, sink)
            await c.start()
            connectors.append(c)
        await asyncio.sleep(3.0)  # connect and settle before measuring
        r0, t0, n0, k0 = (
            resource.getrusage(resource.RUSAGE_SELF),
            time.perf_counter(),
            received,
            devices.ticks,
        )
        await asyncio.sleep(seconds)
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        for c in connectors:
            await c.aclose()
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    wall = t1 - t0
    broker = devices.settings.mqtt_url or "started by the demo (separate process, not counted)"
    print(
        f"devices + connectors, {wall:.1f} s: CPU {cpu:.2f} s = {100 * cpu / wall:.1f} % of one core; "
        f"{devices.ticks - k0} ticks, {received - n0} readings received "
        f"({(received - n0) / wall:.0f}/s); peak RSS {r1.ru_maxrss / 1024:.0f} MB; broker {broker}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    bench_ticks(1.0)
    bench_ticks(60.0, ticks=300)
    asyncio.run(bench_devices(args.seconds))


if __name__ == "__main__":
    main()
