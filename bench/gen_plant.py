"""Generate large, realistic plant descriptions (for import and parser benchmarks).

Hierarchy: one enterprise > sites > 5 areas > 4 lines > 5 units > 4 equipment each, filled
depth-first until ``n_assets`` exist. Every asset carries ``sensors_per_asset`` sensors;
every unit a setpoint actuator; every fourth equipment is a pump with a ``pump`` sim spec.
Units FEEDS-chain along their line; the first unit of each further line DEPENDS_ON the
area's first unit (a utility); neighbouring equipment of a unit are CONNECTED_TO. One MQTT
data source per site binds all its sensors and actuators. About one maintenance event per
20 assets over the last two years, and a work order per 200 assets.

    python bench/gen_plant.py --assets 10000 --sensors-per-asset 5 -o plant.json
    python bench/gen_plant.py --bench          # times generate, dump and parse; peak memory
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from graph.model import (
    Actuator,
    ActuatorBinding,
    Asset,
    AssetLevel,
    DataSource,
    MaintenanceEvent,
    Relation,
    RelationType,
    Sensor,
    SensorBinding,
    WorkOrder,
    WorkOrderStatus,
)
from graph.plantfile import AssetSimSpec, PlantDescription, dump_plant, parse_plant

__all__ = ["FANOUT", "generate_plant"]

# kind, unit, min, max
_KINDS = (
    ("speed", "rpm", 0.0, 3600.0),
    ("flow", "m3/h", 0.0, 400.0),
    ("pressure", "bar", 0.0, 16.0),
    ("temperature", "°C", -20.0, 120.0),
    ("vibration", "mm/s", 0.0, 20.0),
    ("power", "kW", 0.0, 100.0),
    ("current", "A", 0.0, 200.0),
    ("level", "m", 0.0, 10.0),
)
FANOUT = {AssetLevel.SITE: 5, AssetLevel.AREA: 4, AssetLevel.LINE: 5, AssetLevel.UNIT: 4}
_TYPES = {
    AssetLevel.SITE: ("plant_site",),
    AssetLevel.AREA: ("production_area", "utilities_area"),
    AssetLevel.LINE: ("production_line", "pumping_line"),
    AssetLevel.UNIT: ("mixing_unit", "filling_unit", "cooling_unit", "packing_unit"),
    AssetLevel.EQUIPMENT: ("pump", "motor", "valve", "conveyor", "heat_exchanger"),
}
_TECHNICIANS = ("J. Okafor", "M. Lindqvist", "S. Novak", "P. Haddad", "A. Ferreira")
_EVENT_KINDS = ("inspection", "lubrication", "calibration", "repair", "bearing_replacement")
_NEXT = {
    AssetLevel.SITE: AssetLevel.AREA,
    AssetLevel.AREA: AssetLevel.LINE,
    AssetLevel.LINE: AssetLevel.UNIT,
    AssetLevel.UNIT: AssetLevel.EQUIPMENT,
}


def generate_plant(
    n_assets: int = 10_000, sensors_per_asset: int = 5, seed: int = 0
) -> PlantDescription:
    """A valid plant of exactly ``n_assets`` assets (at least 1), deterministic per seed."""
    if n_assets < 1 or sensors_per_asset < 0:
        raise ValueError("n_assets must be >= 1 and sensors_per_asset >= 0")
    rng = random.Random(seed)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assets = [Asset("gen-ent", "Generated enterprise", "company", AssetLevel.ENTERPRISE)]
    children: dict[str, list[Asset]] = {}
    site = 0
    while len(assets) < n_assets:
        site += 1
        stack = [(f"s{site}", AssetLevel.SITE, "gen-ent")]
        while stack and len(assets) < n_assets:
            ident, level, parent = stack.pop()
            kind = rng.choice(_TYPES[level])
            asset = Asset(ident, f"{kind.replace('_', ' ')} {ident}", kind, level, parent)
            assets.append(asset)
            children.setdefault(parent, []).append(asset)
            if level in _NEXT:
                prefix = {AssetLevel.AREA: "a", AssetLevel.LINE: "l", AssetLevel.UNIT: "u"}
                tag = prefix.get(_NEXT[level], "e")
                for k in range(FANOUT[level], 0, -1):  # reversed: popped in order
                    stack.append((f"{ident}-{tag}{k}", _NEXT[level], ident))

    sensors: list[Sensor] = []
    actuators: list[Actuator] = []
    sims: list[AssetSimSpec] = []
    for i, a in enumerate(assets):
        start = 0 if a.type == "pump" else rng.randrange(len(_KINDS))
        for k in range(sensors_per_asset):
            kind, unit, lo, hi = _KINDS[(start + k) % len(_KINDS)]
            sensors.append(
                Sensor(f"{a.id}.{kind}{k}", a.id, f"{kind} {k}", kind, unit, lo, hi, 1.0)
            )
        if a.level is AssetLevel.UNIT:
            actuators.append(Actuator(f"{a.id}.sp", a.id, "speed setpoint", "rpm", 0.0, 3000.0))
        if a.type == "pump" and sensors_per_asset >= 2 and i % 4 == 0:
            params = {"rated_speed_rpm": 2900.0, "wear": round(rng.random() * 0.5, 3)}
            state = {f"{a.id}.speed0": "speed_rpm", f"{a.id}.flow1": "flow_m3h"}
            sims.append(AssetSimSpec(a.id, "pump", params, state, {}))

    relations: list[Relation] = []
    for kids in children.values():
        units = [u for u in kids if u.level is AssetLevel.UNIT]
        for up, down in zip(units, units[1:], strict=False):
            relations.append(Relation(up.id, down.id, RelationType.FEEDS))
        equipment = [e for e in kids if e.level is AssetLevel.EQUIPMENT]
        for left, right in zip(equipment[::2], equipment[1::2], strict=False):
            relations.append(Relation(left.id, right.id, RelationType.CONNECTED_TO))
        lines = [x for x in kids if x.level is AssetLevel.LINE]
        firsts = [children[x.id][0] for x in lines if children.get(x.id)]
        for unit in firsts[1:]:
            relations.append(Relation(unit.id, firsts[0].id, RelationType.DEPENDS_ON))

    sources: list[DataSource] = []
    s_bind: list[SensorBinding] = []
    a_bind: list[ActuatorBinding] = []
    site_of = {a.id: a.id.split("-", 1)[0] for a in assets}
    for sid in sorted({v for v in site_of.values() if v != "gen"}, key=lambda s: int(s[1:])):
        sources.append(DataSource(f"mqtt-{sid}", "mqtt", "mqtt://127.0.0.1:1883", f"site {sid}"))
    for s in sensors:
        if site_of[s.asset_id] != "gen":
            address = s.id.rsplit(".", 1)[1]
            s_bind.append(SensorBinding(f"mqtt-{site_of[s.asset_id]}", s.id, address))
    for x in actuators:
        a_bind.append(ActuatorBinding(f"mqtt-{site_of[x.asset_id]}", x.id, "sp"))

    equipment_ids = [a.id for a in assets if a.level is AssetLevel.EQUIPMENT] or [assets[0].id]
    orders: list[WorkOrder] = []
    for k in range(n_assets // 200):
        status = (WorkOrderStatus.DONE, WorkOrderStatus.OPEN, WorkOrderStatus.IN_PROGRESS)[k % 3]
        created = now - timedelta(days=rng.uniform(1, 700))
        due = created + timedelta(days=rng.randint(7, 60))
        asset_id = rng.choice(equipment_ids)
        orders.append(
            WorkOrder(f"wo-{k + 1}", asset_id, status, 1 + k % 5, created, "generated", due)
        )
    events: list[MaintenanceEvent] = []
    done = [w for w in orders if w.status is WorkOrderStatus.DONE]
    for k in range(n_assets // 20):
        order = done[k] if k < len(done) else None
        events.append(
            MaintenanceEvent(
                f"mx-{k + 1}",
                order.asset_id if order else rng.choice(equipment_ids),
                rng.choice(_EVENT_KINDS),
                (
                    order.due_at
                    if order and order.due_at
                    else now - timedelta(days=rng.uniform(1, 730))
                ),
                "generated event",
                rng.choice(_TECHNICIANS),
                round(rng.uniform(50, 3000), 2),
                float(rng.randint(0, 480)),
                order.id if order else None,
            )
        )
    return PlantDescription(
        assets=tuple(assets),
        sensors=tuple(sensors),
        actuators=tuple(actuators),
        data_sources=tuple(sources),
        sensor_bindings=tuple(s_bind),
        actuator_bindings=tuple(a_bind),
        relations=tuple(relations),
        maintenance=tuple(events),
        work_orders=tuple(orders),
        sims=tuple(sims),
        name=f"generated plant ({n_assets} assets, seed {seed})",
    )


def _bench(n_assets: int, sensors_per_asset: int, seed: int) -> None:
    t0 = time.perf_counter()
    plant = generate_plant(n_assets, sensors_per_asset, seed)
    print(f"generate     {time.perf_counter() - t0:6.3f} s  {plant.counts()}")
    for fmt in ("json", "yaml"):
        t0 = time.perf_counter()
        text = dump_plant(plant, fmt)  # type: ignore[arg-type]
        t1 = time.perf_counter()
        parsed = parse_plant(text, fmt=fmt)  # type: ignore[arg-type]
        t2 = time.perf_counter()
        assert parsed.same_content(plant), f"{fmt} round trip changed the plant"
        tracemalloc.start()  # a second parse, traced (tracing slows it: not timed)
        parse_plant(text, fmt=fmt)  # type: ignore[arg-type]
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        entities = sum(parsed.counts().values())
        print(
            f"{fmt:5} dump {t1 - t0:6.3f} s  parse {t2 - t1:6.3f} s  "
            f"{entities:,} entities ({entities / (t2 - t1):,.0f}/s) from "
            f"{len(text) / 1e6:.1f} MB; parse peak {peak / 1e6:.0f} MB (tracemalloc)"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"max RSS of the run {rss:.0f} MB")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--assets", type=int, default=10_000)
    ap.add_argument("--sensors-per-asset", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--format", choices=("yaml", "json"), help="default: from -o, else json")
    ap.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    ap.add_argument("--bench", action="store_true", help="time generate, dump and parse")
    args = ap.parse_args(argv)
    if args.bench:
        _bench(args.assets, args.sensors_per_asset, args.seed)
        return 0
    fmt = args.format or (
        "yaml" if args.output and args.output.suffix in (".yaml", ".yml") else "json"
    )
    text = dump_plant(generate_plant(args.assets, args.sensors_per_asset, args.seed), fmt)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
        print(f"wrote {args.output} ({len(text) / 1e6:.1f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
