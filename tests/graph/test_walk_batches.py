"""Batch walks (subtrees, ancestors, impact, root causes, neighbourhoods of many assets)
against the embedded Bolt server: per asset the same as the single-asset calls, limits
per start asset, and a number of statements that does not grow with the starts."""

from __future__ import annotations

import random

from graph.bolt.repository import GraphRepository
from graph.bolt.topology import TopologyRepository
from graph.model import Asset, Relation

HUB_FANOUT = 12


def ring_plant(u: str, units: int) -> tuple[list[Asset], list[Relation]]:
    """site > line > units; each unit > pump a (> motor c) and valve b. Unit i FEEDS a,
    a FEEDS b, b FEEDS unit i+1 (a ring, so walks from different units overlap), a
    DEPENDS_ON c, unit i CONNECTED_TO unit i+1. Unit 0 is a hub: it also holds and FEEDS
    ``HUB_FANOUT`` extra pumps, so one start has far more to return than the others."""
    assets = [
        Asset(f"{u}-site", "Site", "site", "site"),
        Asset(f"{u}-line", "Line", "line", "line", parent_id=f"{u}-site"),
    ]
    relations = []
    for i in range(units):
        unit, a, b, c = (f"{u}-u{i:02d}{x}" for x in ("", "-a", "-b", "-c"))
        after = f"{u}-u{(i + 1) % units:02d}"
        assets += [
            Asset(unit, f"Unit {i}", "unit", "unit", parent_id=f"{u}-line"),
            Asset(a, "Pump", "pump", "equipment", parent_id=unit),
            Asset(b, "Valve", "valve", "equipment", parent_id=unit),
            Asset(c, "Motor", "motor", "component", parent_id=a),
        ]
        relations += [
            Relation(unit, a, "FEEDS"),
            Relation(a, b, "FEEDS"),
            Relation(b, after, "FEEDS"),
            Relation(a, c, "DEPENDS_ON"),
            Relation(unit, after, "CONNECTED_TO"),
        ]
    hub = f"{u}-u00"
    for k in range(HUB_FANOUT):
        assets.append(Asset(f"{hub}-x{k:02d}", "Extra", "pump", "equipment", parent_id=hub))
        relations.append(Relation(hub, f"{hub}-x{k:02d}", "FEEDS"))
    return assets, relations


async def load_ring(repo: GraphRepository, u: str, units: int) -> list[str]:
    """Load the ring plant; its unit ids, in order."""
    assets, relations = ring_plant(u, units)
    await repo.assets.upsert(assets)
    await repo.topology.connect(relations)
    return [f"{u}-u{i:02d}" for i in range(units)]


async def test_subtrees_and_ancestors_of_many_assets(repo: GraphRepository, uid: str) -> None:
    units = await load_ring(repo, uid, 6)
    starts = [f"{uid}-line", *units, f"{uid}-u03-c", f"{uid}-missing"]
    before = repo.client.sent_count
    trees = await repo.assets.subtrees_of(starts, depth=2, limit=3)
    everything = await repo.assets.subtrees_of(starts, depth=3)
    up = await repo.assets.ancestors_of(starts)
    assert repo.client.sent_count - before == 3
    for start in starts[:-1]:
        assert trees[start] == await repo.assets.subtree(start, depth=2, limit=3)
        assert everything[start] == await repo.assets.subtree(start, depth=3)
        assert up[start] == await repo.assets.ancestors(start)
    # The limit is per start: the line (many descendants) and the hub do not crowd out
    # the other units, which each keep their own nearest three.
    assert all(len(trees[unit]) == 3 for unit in units)
    assert [(n.depth, n.asset.id) for n in trees[units[1]]] == [
        (1, f"{uid}-u01-a"), (1, f"{uid}-u01-b"), (2, f"{uid}-u01-c"),
    ]  # fmt: skip
    assert [n.asset.id for n in trees[f"{uid}-line"]] == units[:3]
    assert len(everything[f"{uid}-line"]) == 6 * 4 + HUB_FANOUT
    assert [n.asset.id for n in up[f"{uid}-u03-c"]] == [
        f"{uid}-u03-a", f"{uid}-u03", f"{uid}-line", f"{uid}-site",
    ]  # fmt: skip
    assert up[f"{uid}-u03-c"][0].asset.parent_id == f"{uid}-u03"
    assert trees[f"{uid}-missing"] == up[f"{uid}-missing"] == everything[f"{uid}-u03-c"] == []
    assert await repo.assets.subtrees_of([], depth=2) == {}


async def test_impact_and_root_causes_of_many_assets(repo: GraphRepository, uid: str) -> None:
    units = await load_ring(repo, uid, 8)
    starts = [*units, f"{uid}-u05-c", f"{uid}-missing"]
    impact = await repo.topology.impact_of(starts, max_depth=6, limit=4)
    causes = await repo.topology.root_causes_of(starts, max_depth=6, limit=3)
    whole = await repo.topology.impact_of(starts, max_depth=25)
    for start in starts[:-1]:
        assert impact[start] == await repo.topology.impact(start, max_depth=6, limit=4)
        assert causes[start] == await repo.topology.root_causes(start, max_depth=6, limit=3)
        assert whole[start] == await repo.topology.impact(start, max_depth=25)
    # Per start: the hub's dozen direct feeds do not use up the others' limit.
    assert all(len(impact[unit]) == 4 for unit in units)
    assert [r.distance for r in impact[units[0]]] == [1, 1, 1, 1]
    u2 = f"{uid}-u02"
    assert [(r.id, r.distance, r.via) for r in impact[u2]] == [
        (f"{u2}-a", 1, "FEEDS"), (f"{u2}-b", 2, "FEEDS"), (f"{uid}-u03", 3, "FEEDS"),
        (f"{uid}-u03-a", 4, "FEEDS"),
    ]  # fmt: skip
    assert impact[u2][-1].path == (u2, f"{u2}-a", f"{u2}-b", f"{uid}-u03", f"{uid}-u03-a")
    # A motor failing stops its pump (DEPENDS_ON), then what the pump feeds.
    assert [(r.id, r.via) for r in impact[f"{uid}-u05-c"]][:2] == [
        (f"{uid}-u05-a", "DEPENDS_ON"), (f"{uid}-u05-b", "FEEDS"),
    ]  # fmt: skip
    assert [(r.id, r.distance) for r in causes[u2]] == [
        (f"{uid}-u01-b", 1), (f"{uid}-u01-a", 2), (f"{uid}-u01", 3),
    ]  # fmt: skip
    # The ring: a whole walk reaches every pump, valve, unit and hub extra, never twice.
    assert len(whole[u2]) == len({r.id for r in whole[u2]}) == 8 * 3 - 1 + HUB_FANOUT
    assert impact[f"{uid}-missing"] == causes[f"{uid}-missing"] == []


async def test_walk_statements_do_not_grow_with_the_starts(repo: GraphRepository, uid: str) -> None:
    units = await load_ring(repo, uid, 10)
    counts = []
    for starts in (units[1:3], units):
        before = repo.client.sent_count
        await repo.topology.impact_of(starts, max_depth=5, limit=100)
        await repo.topology.root_causes_of(starts, max_depth=5, limit=100)
        await repo.topology.neighbourhoods_of(starts, hops=2)
        counts.append(repo.client.sent_count - before)
    # One statement per walk (impact, root causes); the neighbourhoods: their start
    # rows, then a hop per distance.
    assert counts == [1 + 1 + 1 + 2] * 2


def tangle_plant(u: str, n: int, seed: int) -> tuple[list[Asset], list[Relation]]:
    """``n`` equipment assets under one line with random FEEDS and DEPENDS_ON edges:
    cycles, parallel relations of both types between the same pair, diamonds (several
    shortest paths to one asset), self-contained islands."""
    rnd = random.Random(seed)
    ids = [f"{u}-e{i:02d}" for i in range(n)]
    assets = [
        Asset(f"{u}-site", "Site", "site", "site"),
        Asset(f"{u}-line", "Line", "line", "line", parent_id=f"{u}-site"),
        *(
            Asset(i, f"Eq {i}", rnd.choice(["pump", "valve"]), "unit", parent_id=f"{u}-line")
            for i in ids
        ),
    ]
    pairs = {
        (rnd.choice(ids), rnd.choice(ids), rnd.choice(["FEEDS", "DEPENDS_ON"]))
        for _ in range(2 * n)
    }
    relations = [Relation(a, b, t) for a, b, t in sorted(pairs) if a != b]
    return assets, relations


async def test_one_statement_walks_equal_the_hop_by_hop_walks(
    repo: GraphRepository, uid: str
) -> None:
    """The walk from one statement of edges against the walk one statement per hop (a
    cap of one edge forces it), on the same graphs: the ring and random tangles, both
    directions, several depths and limits, one start and many."""
    hops = TopologyRepository(repo.client, walk_edge_cap=1)
    units = await load_ring(repo, uid, 6)
    starts = [*units, f"{uid}-u02-c", f"{uid}-missing"]
    for seed in range(3):
        assets, relations = tangle_plant(f"{uid}-{seed}", 24, seed)
        await repo.assets.upsert(assets)
        await repo.topology.connect(relations)
        starts += [a.id for a in assets[2::5]]
    known = [s for s in starts if s != f"{uid}-missing"]
    compared = 0
    for depth, limit in ((1, None), (2, 3), (4, None), (7, 5), (25, None)):
        for mine, theirs in (
            (repo.topology.impact_of, hops.impact_of),
            (repo.topology.root_causes_of, hops.root_causes_of),
        ):
            got = await mine(starts, max_depth=depth, limit=limit)
            assert got == await theirs(starts, max_depth=depth, limit=limit)
            compared += sum(len(v) for v in got.values())
        one = known[(3 * depth) % len(known)]
        assert await repo.topology.impact(one, depth, limit) == await hops.impact(one, depth, limit)
        assert await repo.topology.root_causes(one, depth, limit) == await hops.root_causes(
            one, depth, limit
        )
    assert compared > 500  # the graphs reach far: the comparison is not of empty walks


async def test_walks_beyond_the_edge_cap_go_hop_by_hop(repo: GraphRepository, uid: str) -> None:
    units = await load_ring(repo, uid, 4)
    capped = TopologyRepository(repo.client, walk_edge_cap=3)
    before = repo.client.sent_count
    walked = await capped.impact(units[0], max_depth=6)
    # The capped statement, then the existence check and six hops in one transaction.
    assert repo.client.sent_count - before == 1 + 1 + 6
    assert walked == await repo.topology.impact(units[0], max_depth=6)
    assert len(walked) > 3


async def test_neighbourhoods_of_many_assets(repo: GraphRepository, uid: str) -> None:
    units = await load_ring(repo, uid, 5)
    starts = [*units, f"{uid}-u02-c", f"{uid}-missing"]
    hoods = await repo.topology.neighbourhoods_of(starts, hops=2)
    assert set(hoods) == set(starts) - {f"{uid}-missing"}
    for start in starts[:-1]:
        assert hoods[start] == await repo.topology.neighbourhood(start, hops=2)
    near = await repo.topology.neighbourhoods_of([f"{uid}-u02"], hops=1)
    assert {n: d["distance"] for n, d in near[f"{uid}-u02"].nodes.items()} == {
        f"{uid}-u02": 0, f"{uid}-line": 1, f"{uid}-u02-a": 1, f"{uid}-u02-b": 1,
        f"{uid}-u01-b": 1, f"{uid}-u01": 1, f"{uid}-u03": 1,
    }  # fmt: skip
    assert all(
        e.source in hood.nodes and e.target in hood.nodes
        for hood in hoods.values()
        for e in hood.edges
    )
