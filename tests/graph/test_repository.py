"""Graph repository contract tests, against the embedded Bolt server (real ArcadeDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from graph.bolt.alerts import Alert, AlertRepository
from graph.bolt.assets import AssetPage
from graph.bolt.commands import SetpointCommand
from graph.bolt.maintenance import EventPageRequest, MaintenanceFilter, event_key
from graph.bolt.repository import GraphRepository
from graph.bolt.simruns import SimRunRepository, SimulationRunRecord
from graph.errors import Conflict, NotFound, ValidationError
from graph.model import (
    Actuator,
    ActuatorBinding,
    Asset,
    DataSource,
    MaintenanceEvent,
    Relation,
    Sensor,
    SensorBinding,
    WorkOrder,
)


def small_plant(u: str) -> tuple[list[Asset], list[Sensor], list[Actuator], list[Relation]]:
    """site > line > {tank, pump-a, pump-b, valve, panel}; tank FEEDS pumps FEED valve."""
    assets = [
        Asset(f"{u}-site", "Site", "site", "site"),
        Asset(f"{u}-line", "Line", "line", "line", parent_id=f"{u}-site"),
        Asset(f"{u}-tank", "Tank", "tank", "equipment", parent_id=f"{u}-line"),
        Asset(f"{u}-pa", "Pump A", "pump", "equipment", parent_id=f"{u}-line"),
        Asset(f"{u}-pb", "Pump B", "pump", "equipment", parent_id=f"{u}-line"),
        Asset(f"{u}-valve", "Valve", "valve", "equipment", parent_id=f"{u}-line"),
        Asset(f"{u}-panel", "Panel", "panel", "equipment", parent_id=f"{u}-line"),
        Asset(f"{u}-motor", "Motor A", "motor", "component", parent_id=f"{u}-pa"),
    ]
    sensors = [
        Sensor(f"{u}-pa-p", f"{u}-pa", "Pressure", "pressure", "bar", 0, 16),
        Sensor(f"{u}-pa-f", f"{u}-pa", "Flow", "flow", "m3/h", 0, 400),
        Sensor(f"{u}-pb-p", f"{u}-pb", "Pressure", "pressure", "bar", 0, 16),
        Sensor(f"{u}-m-t", f"{u}-motor", "Temp", "temperature", "degC", -20, 120),
    ]
    actuators = [Actuator(f"{u}-pa-sp", f"{u}-pa", "Speed", "rpm", 0, 3000)]
    relations = [
        Relation(f"{u}-tank", f"{u}-pa", "FEEDS"),
        Relation(f"{u}-tank", f"{u}-pb", "FEEDS"),
        Relation(f"{u}-pa", f"{u}-valve", "FEEDS"),
        Relation(f"{u}-pb", f"{u}-valve", "FEEDS"),
        Relation(f"{u}-pa", f"{u}-panel", "DEPENDS_ON"),
        Relation(f"{u}-pa", f"{u}-motor", "CONNECTED_TO"),
    ]
    return assets, sensors, actuators, relations


async def load(repo: GraphRepository, u: str) -> None:
    assets, sensors, actuators, relations = small_plant(u)
    await repo.assets.upsert(assets)
    await repo.devices.upsert_sensors(sensors)
    await repo.devices.upsert_actuators(actuators)
    await repo.topology.connect(relations)


async def test_assets_round_trip_with_hierarchy(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    pump = await repo.assets.get(f"{uid}-pa")
    assert (pump.name, pump.level.value, pump.parent_id) == ("Pump A", "equipment", f"{uid}-line")
    assert pump.created_at is not None and pump.updated_at is not None
    kids = await repo.assets.children_of([f"{uid}-line", f"{uid}-pa", f"{uid}-none"])
    assert [a.id for a in kids[f"{uid}-line"]] == sorted(
        f"{uid}-{x}" for x in ("tank", "pa", "pb", "valve", "panel")
    )
    assert [a.id for a in kids[f"{uid}-pa"]] == [f"{uid}-motor"]
    assert kids[f"{uid}-none"] == []


async def test_upsert_is_idempotent_and_updates(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    await load(repo, uid)
    counts = await repo.devices.sensors_of([f"{uid}-pa"])
    assert len(counts[f"{uid}-pa"]) == 2
    kids = await repo.assets.children_of([f"{uid}-line"])
    assert len(kids[f"{uid}-line"]) == 5
    renamed = Asset(f"{uid}-pa", "Pump A (new)", "pump", "equipment", parent_id=f"{uid}-line")
    await repo.assets.upsert([renamed])
    assert (await repo.assets.get(f"{uid}-pa")).name == "Pump A (new)"


async def test_subtree_and_ancestors(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    tree = await repo.assets.subtree(f"{uid}-site", depth=2)
    assert {(n.asset.id, n.depth) for n in tree} == {(f"{uid}-line", 1)} | {
        (f"{uid}-{x}", 2) for x in ("tank", "pa", "pb", "valve", "panel")
    }
    deeper = await repo.assets.subtree(f"{uid}-site", depth=3)
    assert (f"{uid}-motor", 3) in {(n.asset.id, n.depth) for n in deeper}
    up = await repo.assets.ancestors(f"{uid}-motor")
    assert [(n.asset.id, n.depth) for n in up] == [
        (f"{uid}-pa", 1),
        (f"{uid}-line", 2),
        (f"{uid}-site", 3),
    ]
    with pytest.raises(ValidationError):
        await repo.assets.subtree(f"{uid}-site", depth=0)
    with pytest.raises(NotFound):
        await repo.assets.subtree(f"{uid}-missing")


async def test_hierarchy_guards(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    with pytest.raises(NotFound):
        await repo.assets.upsert([Asset(f"{uid}-x", "X", "pump", "equipment", parent_id="nope")])
    with pytest.raises(ValidationError, match="levels must descend"):
        await repo.assets.upsert([Asset(f"{uid}-x", "X", "site", "site", parent_id=f"{uid}-line")])
    # Moving the line under its own pump would make a cycle (levels forbid it first).
    with pytest.raises((Conflict, ValidationError)):
        await repo.assets.upsert(
            [Asset(f"{uid}-line", "Line", "line", "line", parent_id=f"{uid}-motor")]
        )
    # Re-parent: the pump moves to a second line; exactly one PART_OF edge remains.
    await repo.assets.upsert([Asset(f"{uid}-line2", "L2", "line", "line", parent_id=f"{uid}-site")])
    await repo.assets.upsert(
        [Asset(f"{uid}-pb", "Pump B", "pump", "equipment", parent_id=f"{uid}-line2")]
    )
    assert (await repo.assets.get(f"{uid}-pb")).parent_id == f"{uid}-line2"
    kids = await repo.assets.children_of([f"{uid}-line"])
    assert f"{uid}-pb" not in [a.id for a in kids[f"{uid}-line"]]


async def test_impact_and_root_cause(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    impact = await repo.topology.impact(f"{uid}-tank")
    assert {(r.id, r.distance) for r in impact} == {
        (f"{uid}-pa", 1),
        (f"{uid}-pb", 1),
        (f"{uid}-valve", 2),
    }
    valve = next(r for r in impact if r.id == f"{uid}-valve")
    assert valve.path[0] == f"{uid}-tank" and valve.path[-1] == f"{uid}-valve"
    # The panel failing stops pump A (it depends on the panel), and what pump A feeds.
    panel = await repo.topology.impact(f"{uid}-panel")
    assert {(r.id, r.distance, r.via) for r in panel} == {
        (f"{uid}-pa", 1, "DEPENDS_ON"),
        (f"{uid}-valve", 2, "FEEDS"),
    }
    causes = await repo.topology.root_causes(f"{uid}-valve")
    assert {(r.id, r.distance) for r in causes} == {
        (f"{uid}-pa", 1),
        (f"{uid}-pb", 1),
        (f"{uid}-tank", 2),
        (f"{uid}-panel", 2),
    }
    assert await repo.topology.impact(f"{uid}-valve") == []


async def test_walks_survive_cycles(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    await repo.topology.connect([Relation(f"{uid}-valve", f"{uid}-tank", "FEEDS")])
    impact = await repo.topology.impact(f"{uid}-tank", max_depth=25)
    assert sorted(r.id for r in impact) == sorted(f"{uid}-{x}" for x in ("pa", "pb", "valve"))


async def test_shortest_path_and_neighbourhood(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    path = await repo.topology.shortest_path(f"{uid}-motor", f"{uid}-valve", process_only=True)
    assert path is not None
    assert path.ids == (f"{uid}-motor", f"{uid}-pa", f"{uid}-valve")
    assert [e.type for e in path.edges] == ["CONNECTED_TO", "FEEDS"]
    assert (
        await repo.topology.shortest_path(f"{uid}-site", f"{uid}-panel", process_only=True) is None
    )
    hood = await repo.topology.neighbourhood(f"{uid}-pa", hops=1)
    assert set(hood.nodes) == {
        f"{uid}-{x}" for x in ("pa", "line", "tank", "valve", "panel", "motor")
    }
    assert any(e.type == "PART_OF" and e.source == f"{uid}-pa" for e in hood.edges)


async def test_sensors_actuators_and_sources(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    got = await repo.devices.sensors([f"{uid}-pa-p", f"{uid}-m-t", "missing"])
    assert set(got) == {f"{uid}-pa-p", f"{uid}-m-t"}
    assert (got[f"{uid}-pa-p"].min_value, got[f"{uid}-pa-p"].max_value) == (0, 16)
    under = await repo.devices.sensors_under(f"{uid}-line")
    assert {s.id for s in under} == {f"{uid}-pa-p", f"{uid}-pa-f", f"{uid}-pb-p", f"{uid}-m-t"}
    src = DataSource(f"{uid}-mb", "modbus", "modbus://127.0.0.1:5020?unit=1", settings={"x": 1})
    await repo.sources.upsert(
        [src],
        [SensorBinding(src.id, f"{uid}-pa-p", "hr:10", scale=0.1, data_type="uint16")],
        [ActuatorBinding(src.id, f"{uid}-pa-sp", "hr:100", data_type="float32")],
    )
    await repo.sources.upsert([src], [SensorBinding(src.id, f"{uid}-pa-p", "hr:12")])
    (cfg,) = await repo.sources.configs([src.id])
    assert cfg.source.settings == {"x": 1}
    assert [(b.sensor_id, b.address) for b in cfg.sensors] == [(f"{uid}-pa-p", "hr:12")]
    assert cfg.sensor_asset == {f"{uid}-pa-p": f"{uid}-pa"}
    assert cfg.sensor_sampling_s == {}  # no rate registered
    assert cfg.actuators[0].address == "hr:100"
    fast = Sensor(f"{uid}-pa-p", f"{uid}-pa", "Pressure", "pressure", "bar", 0, 16, 0.25)
    await repo.devices.upsert_sensors([fast])
    (cfg,) = await repo.sources.configs([src.id])
    assert cfg.sensor_sampling_s == {f"{uid}-pa-p": 0.25}
    binding = await repo.sources.binding_of_actuator(f"{uid}-pa-sp")
    assert binding is not None and binding.source_id == src.id


async def test_maintenance_history_filters(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    at = [datetime(2025, m, 1, tzinfo=UTC) for m in (1, 3, 6)]
    wo = WorkOrder(f"{uid}-wo", f"{uid}-pa", "done", 2, at[0], reason="noise")
    events = [
        MaintenanceEvent(f"{uid}-m1", f"{uid}-pa", "inspection", at[0], technician="ann"),
        MaintenanceEvent(
            f"{uid}-m2", f"{uid}-pa", "repair", at[1], cost=900.0, work_order_id=wo.id
        ),
        MaintenanceEvent(f"{uid}-m3", f"{uid}-motor", "inspection", at[2], technician="bob"),
    ]
    await repo.maintenance.record(events, [wo])
    hist = await repo.maintenance.history([f"{uid}-pa"])
    assert [e.id for e in hist[f"{uid}-pa"]] == [f"{uid}-m2", f"{uid}-m1"]
    assert hist[f"{uid}-pa"][0].work_order_id == wo.id
    flt = MaintenanceFilter(kind="inspection")
    under = await repo.maintenance.history_under(f"{uid}-line", flt)
    assert [e.id for e in under] == [f"{uid}-m3", f"{uid}-m1"]
    since = await repo.maintenance.history_under(
        f"{uid}-line", MaintenanceFilter(since=datetime(2025, 2, 1, tzinfo=UTC))
    )
    assert [e.id for e in since] == [f"{uid}-m3", f"{uid}-m2"]
    orders = await repo.maintenance.work_orders([f"{uid}-pa"])
    assert [w.id for w in orders[f"{uid}-pa"]] == [wo.id]
    # recording again is idempotent; the same ids for another asset are refused whole
    await repo.maintenance.record(events, [wo])
    assert len((await repo.maintenance.history([f"{uid}-pa"]))[f"{uid}-pa"]) == 2
    moved = MaintenanceEvent(f"{uid}-m1", f"{uid}-motor", "inspection", at[0])
    fresh = MaintenanceEvent(f"{uid}-m4", f"{uid}-motor", "inspection", at[2])
    with pytest.raises(Conflict, match=f"{uid}-m1 belongs to {uid}-pa, not {uid}-motor"):
        await repo.maintenance.record([fresh, moved])
    with pytest.raises(Conflict, match="work order"):
        await repo.maintenance.record(
            work_orders=[WorkOrder(wo.id, f"{uid}-motor", "open", 1, at[2])]
        )
    motor = (await repo.maintenance.history([f"{uid}-motor"]))[f"{uid}-motor"]
    assert [e.id for e in motor] == [f"{uid}-m3"]  # nothing of the refused call was written
    orders = await repo.maintenance.work_orders([f"{uid}-pa", f"{uid}-motor"])
    assert ([w.id for w in orders[f"{uid}-pa"]], orders[f"{uid}-motor"]) == ([wo.id], [])


async def test_delete_guards_and_cascade(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    with pytest.raises(Conflict, match="child assets"):
        await repo.assets.delete(f"{uid}-line")
    await repo.assets.delete(f"{uid}-panel")  # no children, no history: plain delete works
    with pytest.raises(NotFound):
        await repo.assets.get(f"{uid}-panel")
    removed = await repo.assets.delete(f"{uid}-line", cascade=True)
    assert set(removed) >= {f"{uid}-line", f"{uid}-pa", f"{uid}-motor"}
    assert await repo.devices.sensors([f"{uid}-pa-p"]) == {}
    assert [a.id for a in (await repo.assets.children_of([f"{uid}-site"]))[f"{uid}-site"]] == []
    with pytest.raises(NotFound):
        await repo.assets.delete(f"{uid}-line")


async def attach_history(repo: GraphRepository, u: str) -> None:
    """One node of every kind of history: work order and maintenance on the motor,
    a simulation run on the tank, alerts on a sensor of pump A and a setpoint command
    on its actuator, and a data source bound to pump B's sensor."""
    at = datetime(2025, 4, 1, tzinfo=UTC)
    wo = WorkOrder(f"{u}-wo", f"{u}-motor", "open", 1, at, reason="hot")
    await repo.maintenance.record(
        [MaintenanceEvent(f"{u}-me", f"{u}-motor", "repair", at, work_order_id=wo.id)], [wo]
    )
    await SimRunRepository(repo.client).create(
        SimulationRunRecord(f"{u}-run", f"{u}-tank", "pump", "succeeded", at, at)
    )
    await AlertRepository(repo.client).record(
        [Alert(f"{u}-al", "high", "warning", f"{u}-pa-p", f"{u}-pa", at, value=17.0)], []
    )
    await repo.commands.create(
        SetpointCommand(f"{u}-cmd", f"{u}-pa-sp", f"{u}-pa", 1200.0, "test", at)
    )
    src = DataSource(f"{u}-src", "modbus", "modbus://127.0.0.1:5020?unit=1")
    await repo.sources.upsert([src], [SensorBinding(src.id, f"{u}-pb-p", "hr:1")])


ORPHANS = (
    "MATCH (n) WHERE n.id STARTS WITH $prefix "
    "AND ((n:WorkOrder AND NOT (n)-[:FOR]->(:Asset)) "
    "OR (n:MaintenanceEvent AND NOT (:Asset)-[:HAS_MAINTENANCE]->(n)) "
    "OR (n:SimulationRun AND NOT (n)-[:SIMULATES]->(:Asset)) "
    "OR (n:Alert AND NOT (n)-[:RAISED_ON]->()) "
    "OR (n:SetpointCommand AND NOT (n)-[:TARGETS]->(:Actuator)) "
    "OR (n:Sensor AND NOT (:Asset)-[:HAS_SENSOR]->(n)) "
    "OR (n:Actuator AND NOT (:Asset)-[:HAS_ACTUATOR]->(n))) "
    "RETURN n.id AS id"
)
LEFT = "MATCH (n) WHERE n.id STARTS WITH $prefix RETURN n.id AS id ORDER BY id"


async def test_any_history_blocks_a_plain_delete(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    await attach_history(repo, uid)
    refusals = [
        (repo.assets.delete(f"{uid}-motor"), "1 maintenance events, 1 work orders"),
        (repo.assets.delete(f"{uid}-tank"), "1 simulation runs"),
        (repo.assets.delete(f"{uid}-pa"), "1 setpoint commands, 1 alerts"),
        (repo.devices.delete_sensor(f"{uid}-pa-p"), "1 alerts"),
        (repo.devices.delete_sensor(f"{uid}-pb-p"), "1 data source bindings"),
        (repo.devices.delete_actuator(f"{uid}-pa-sp"), "1 setpoint commands"),
    ]
    for attempt, named in refusals:
        with pytest.raises(Conflict, match=named) as err:
            await attempt
        assert "cascade: true" in err.value.message
    assert err.value.details == {"commands": 1}
    assert await repo.client.read(LEFT, prefix=f"{uid}-wo") == [{"id": f"{uid}-wo"}]
    await repo.devices.delete_sensor(f"{uid}-pa-f")  # nothing attached: deleted
    assert await repo.devices.sensors([f"{uid}-pa-f"]) == {}


async def test_cascades_leave_no_orphans(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    await attach_history(repo, uid)
    await repo.devices.delete_actuator(f"{uid}-pa-sp", cascade=True)  # its audit trail goes
    await repo.devices.delete_sensor(f"{uid}-pb-p", cascade=True)  # unbound, source stays
    (cfg,) = await repo.sources.configs([f"{uid}-src"])
    assert cfg.sensors == ()
    assert await repo.client.read(ORPHANS, prefix=uid) == []
    await repo.assets.delete(f"{uid}-line", cascade=True)
    assert await repo.client.read(ORPHANS, prefix=uid) == []
    left = [r["id"] for r in await repo.client.read(LEFT, prefix=uid)]
    assert left == [f"{uid}-site", f"{uid}-src"]


async def test_listing_is_paginated(repo: GraphRepository, uid: str) -> None:
    await load(repo, uid)
    first = await repo.assets.page(after=f"{uid}-", limit=3, text=uid)
    assert len(first.items) == 3 and first.has_next
    second = await repo.assets.page(after=first.items[-1].id, limit=50, text=uid)
    ids = [a.id for a in first.items + second.items]
    assert ids == sorted(ids) and len(ids) == 8 and not second.has_next
    pumps = await repo.assets.page(type="pump", text=uid)
    assert {a.id for a in pumps.items} == {f"{uid}-pa", f"{uid}-pb"}


async def test_a_scope_is_cut_in_the_graph(repo: GraphRepository, uid: str) -> None:
    """A scoped token's assets (ids_under) bound the asset list and the roots."""
    await load(repo, uid)
    scope = await repo.assets.ids_under([f"{uid}-pa", f"{uid}-motor", f"{uid}-nothing"])
    assert scope == {f"{uid}-pa", f"{uid}-motor"}
    page = await repo.assets.page(text=uid, scope=scope)
    assert [a.id for a in page.items] == [f"{uid}-motor", f"{uid}-pa"]
    first = await repo.assets.page(text=uid, scope=scope, limit=1)
    assert [a.id for a in first.items] == [f"{uid}-motor"] and first.has_next
    roots = await repo.assets.page(roots_only=True, scope=scope)
    assert [a.id for a in roots.items] == [f"{uid}-pa"]  # the motor is below the pump
    two = {f"{uid}-motor", f"{uid}-pa", f"{uid}-tank"}  # two roots; the motor sorts first
    one = await repo.assets.page(roots_only=True, scope=two, limit=1)
    assert [a.id for a in one.items] == [f"{uid}-pa"] and one.has_next
    assert (await repo.assets.page(text=uid, scope=set())).items == []


async def test_children_pages_are_cut_in_the_graph(repo: GraphRepository, uid: str) -> None:
    """Pages of many parents in one statement, each with its own cursor and size."""
    await repo.assets.upsert(
        [Asset(f"{uid}-site", "Site", "site", "site")]
        + [Asset(f"{uid}-l{i}", f"L{i}", "line", "line", parent_id=f"{uid}-site") for i in (1, 2)]
        + [
            Asset(f"{uid}-l{i}-e{j:02d}", "E", "pump", "equipment", parent_id=f"{uid}-l{i}")
            for i in (1, 2)
            for j in range(12)
        ]
    )
    reqs = [(f"{uid}-l1", "", 5), (f"{uid}-l2", f"{uid}-l2-e09", 5), (f"{uid}-l1", "", 50)]
    before = repo.client.sent_count
    pages = await repo.assets.children_pages(reqs + [(f"{uid}-none", "", 3)])
    assert repo.client.sent_count - before == 1
    first = pages[reqs[0]]
    assert [a.id for a in first.items] == [f"{uid}-l1-e{j:02d}" for j in range(5)]
    assert first.has_next and first.items[0].parent_id == f"{uid}-l1"
    tail = pages[reqs[1]]
    assert [a.id for a in tail.items] == [f"{uid}-l2-e10", f"{uid}-l2-e11"]
    assert not tail.has_next
    assert len(pages[reqs[2]].items) == 12 and not pages[reqs[2]].has_next
    assert pages[(f"{uid}-none", "", 3)] == AssetPage([], False)


async def test_maintenance_pages_filter_and_resume_in_the_graph(
    repo: GraphRepository, uid: str
) -> None:
    await load(repo, uid)
    base = datetime(2025, 1, 1, tzinfo=UTC)
    events = [
        MaintenanceEvent(
            f"{uid}-m{i:02d}",
            f"{uid}-pa" if i % 2 else f"{uid}-motor",
            "inspection" if i % 3 else "repair",
            base + timedelta(days=i // 2),  # pairs share a day: the id breaks the tie
            technician="ann",
        )
        for i in range(20)
    ]
    await repo.maintenance.record(events)
    newest_first = sorted(events, key=lambda e: (e.at, e.id), reverse=True)

    # Under the line (pump A and its motor): walk pages of 6 by keyset cursor.
    seen, after = [], None
    while True:
        page = await repo.maintenance.history_under_page(f"{uid}-line", 6, after)
        seen += page.items
        if not page.has_next:
            break
        after = event_key(page.items[-1])
    assert [e.id for e in seen] == [e.id for e in newest_first]

    # Filters are applied before the cut, with the cursor.
    flt = MaintenanceFilter(kind="repair", since=base + timedelta(days=2))
    page = await repo.maintenance.history_under_page(f"{uid}-line", 2, None, flt)
    expected = [e for e in newest_first if e.kind == "repair" and e.at >= flt.since]
    assert [e.id for e in page.items] == [e.id for e in expected[:2]] and page.has_next
    rest = await repo.maintenance.history_under_page(
        f"{uid}-line", 50, event_key(page.items[-1]), flt
    )
    assert [e.id for e in rest.items] == [e.id for e in expected[2:]]

    # Per asset, many requests in one statement, each with its own filter and cursor.
    pa = [e for e in newest_first if e.asset_id == f"{uid}-pa"]
    motor = [e for e in newest_first if e.asset_id == f"{uid}-motor"]
    r1 = EventPageRequest(f"{uid}-pa", 3)
    r2 = EventPageRequest(f"{uid}-motor", 3, after=event_key(motor[2]))
    r3 = EventPageRequest(f"{uid}-motor", 50, flt=MaintenanceFilter(kind="repair"))
    before = repo.client.sent_count
    pages = await repo.maintenance.history_pages([r1, r2, r3])
    assert repo.client.sent_count - before == 1
    assert [e.id for e in pages[r1].items] == [e.id for e in pa[:3]] and pages[r1].has_next
    assert [e.id for e in pages[r2].items] == [e.id for e in motor[3:6]]
    assert [e.id for e in pages[r3].items] == [e.id for e in motor if e.kind == "repair"]
