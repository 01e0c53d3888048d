"""Import a whole plant description into the graph, atomically and idempotently.

Everything is written in one transaction (all of it lands, or none of it does), with
UNWIND batches per kind. Every write is a MERGE on the business id, so importing the
same file again changes nothing but ``updatedAt``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from graph.bolt.client import Tx
from graph.bolt.repository import GraphRepository
from graph.errors import NotFound
from graph.plantfile import AssetSimSpec, PlantDescription, StationSpec

__all__ = [
    "EndpointChange",
    "ImportReport",
    "endpoint_changes",
    "import_plant",
    "sim_spec_to_map",
    "station_to_map",
]


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """A data source already in the graph whose endpoint the import changed: its running
    connector reconnects to the new endpoint."""

    source_id: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class ImportReport:
    name: str
    counts: dict[str, int]
    seconds: float
    endpoint_changes: tuple[EndpointChange, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "counts": self.counts,
            "seconds": round(self.seconds, 3),
            "endpointChanges": [
                {"sourceId": c.source_id, "before": c.before, "after": c.after}
                for c in self.endpoint_changes
            ],
        }


def sim_spec_to_map(spec: AssetSimSpec) -> dict[str, object]:
    def target(t: object) -> object:
        if isinstance(t, tuple):
            name, scale, offset = t
            return {"name": name, "scale": scale, "offset": offset}
        return t

    return {
        "model": spec.model,
        "parameters": dict(spec.parameters),
        "state_map": {k: target(v) for k, v in spec.state_map.items()},
        "input_map": {k: target(v) for k, v in spec.input_map.items()},
        "output_map": {k: target(v) for k, v in spec.output_map.items()},
    }


def station_to_map(spec: StationSpec) -> dict[str, object]:
    data = asdict(spec)
    data.pop("asset_id")
    return data


async def endpoint_changes(
    graph: GraphRepository, plant: PlantDescription
) -> tuple[EndpointChange, ...]:
    """The data sources of ``plant`` already in the graph with another endpoint."""
    wanted = {d.id: d.endpoint for d in plant.data_sources}
    if not wanted:
        return ()
    known = await graph.sources.configs(sorted(wanted))
    return tuple(
        EndpointChange(c.source.id, c.source.endpoint, wanted[c.source.id])
        for c in known
        if c.source.endpoint != wanted[c.source.id]
    )


async def import_plant(graph: GraphRepository, plant: PlantDescription) -> ImportReport:
    """Write the plant in one transaction. Parents outside the file must already exist."""
    started = time.perf_counter()
    in_file = {a.id for a in plant.assets}
    outside = sorted({a.parent_id for a in plant.assets if a.parent_id} - in_file)
    if outside:
        found = await graph.assets.get_many(outside)
        missing = [i for i in outside if i not in found]
        if missing:
            raise NotFound(f"the plant attaches to unknown assets: {', '.join(missing)}")
    specs: dict[str, dict[str, object]] = {}
    for sim in plant.sims:
        specs.setdefault(sim.asset_id, {"id": sim.asset_id})["sim"] = sim_spec_to_map(sim)
    for st in plant.stations:
        specs.setdefault(st.asset_id, {"id": st.asset_id})["station"] = station_to_map(st)

    async def work(tx: Tx) -> None:
        # The parser checked ids, references, levels and cycles within the file.
        await graph.assets.upsert_in(tx, plant.assets, checked=not outside)
        await graph.devices.upsert_sensors_in(tx, plant.sensors, checked=True)
        await graph.devices.upsert_actuators_in(tx, plant.actuators, checked=True)
        await graph.sources.upsert_in(
            tx, plant.data_sources, plant.sensor_bindings, plant.actuator_bindings
        )
        await graph.topology.connect_in(tx, plant.relations)
        await graph.maintenance.record_in(tx, plant.maintenance, plant.work_orders)
        await graph.assets.set_specs_in(tx, list(specs.values()))

    changes = await endpoint_changes(graph, plant)
    await graph.client.write_tx(work)
    return ImportReport(plant.name, plant.counts(), time.perf_counter() - started, changes)
