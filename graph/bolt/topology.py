"""Process relations and the graph questions analysts ask of them.

Impact (downstream) and root cause (upstream) walk breadth first: distances are exact
and cycles (recirculation loops) are harmless. One statement (a quantified path pattern
bounded by the depth) brings every edge the walk can take; the breadth-first walk then
runs on them in Python, exactly as it would hop by hop. Should that statement reach
``walk_edge_cap`` edges (a densely connected plant), the walk goes one statement per hop
over the whole frontier instead: a walk of depth d then costs d round trips whatever
the plant's size. Walks from many start assets (``impact_of``, ``root_causes_of``,
``neighbourhoods_of``) share those statements, whatever the number of starts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, LiteralString

from graph.bolt.assets import check_limit
from graph.bolt.client import GraphClient, Tx
from graph.bolt.cypher import assets as qa
from graph.bolt.cypher import relations as q
from graph.bolt.rows import asset_from
from graph.errors import NotFound, ValidationError
from graph.model import Asset, Relation, RelationType

__all__ = ["Edge", "Neighbourhood", "PathResult", "Reached", "TopologyRepository"]

MAX_WALK_DEPTH = q.MAX_WALK_DEPTH
WALK_EDGE_CAP = 20_000  # edges one walk statement may bring; beyond, hop by hop
MAX_NEIGHBOURHOOD_HOPS = 4
MAX_NEIGHBOURHOOD_NODES = 2_000

Row = dict[str, Any]

_MERGE: dict[RelationType, LiteralString] = {
    RelationType.FEEDS: q.MERGE_FEEDS,
    RelationType.DEPENDS_ON: q.MERGE_DEPENDS_ON,
    RelationType.CONNECTED_TO: q.MERGE_CONNECTED_TO,
}
_WALK: dict[LiteralString, dict[int, LiteralString]] = {
    q.DOWNSTREAM_HOP: q.DOWNSTREAM_WALK,
    q.UPSTREAM_HOP: q.UPSTREAM_WALK,
}
_DELETE: dict[RelationType, LiteralString] = {
    RelationType.FEEDS: q.DELETE_FEEDS,
    RelationType.DEPENDS_ON: q.DELETE_DEPENDS_ON,
    RelationType.CONNECTED_TO: q.DELETE_CONNECTED_TO,
}


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    type: str


@dataclass(frozen=True, slots=True)
class Reached:
    """An asset reached by a walk: how far, and the path that reached it first."""

    id: str
    name: str
    type: str
    distance: int
    via: str
    path: tuple[str, ...]
    # The whole asset when the walk's statement brought it (not compared: a walk hop by
    # hop brings only id, name and type).
    asset: Asset | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PathResult:
    ids: tuple[str, ...]
    edges: tuple[Edge, ...]


@dataclass(slots=True)
class Neighbourhood:
    nodes: dict[str, dict[str, object]] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)
    truncated: bool = False


class TopologyRepository:
    def __init__(self, client: GraphClient, walk_edge_cap: int = WALK_EDGE_CAP) -> None:
        self._client = client
        self._walk_edge_cap = walk_edge_cap

    async def connect(self, relations: Sequence[Relation]) -> None:
        async def work(tx: Tx) -> None:
            ids = sorted({r.source_id for r in relations} | {r.target_id for r in relations})
            found = {r["id"] for r in await tx.rows(qa.GET_ASSETS, ids=ids)}
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFound(f"asset(s) not found: {', '.join(missing)}")
            await self.connect_in(tx, relations)

        await self._client.write_tx(work)

    async def connect_in(self, tx: Tx, relations: Sequence[Relation]) -> None:
        for rtype, statement in _MERGE.items():
            rows = [
                {"source": r.source_id, "target": r.target_id} for r in relations if r.type is rtype
            ]
            await tx.batched(statement, rows)

    async def disconnect(self, relation: Relation) -> None:
        await self._client.write(
            _DELETE[relation.type], source=relation.source_id, target=relation.target_id
        )

    async def relations_of(self, asset_ids: Iterable[str]) -> dict[str, list[Edge]]:
        ids = list(dict.fromkeys(asset_ids))
        out: dict[str, list[Edge]] = {i: [] for i in ids}
        if ids:
            for r in await self._client.read(q.RELATIONS_OF, ids=ids):
                out[r["key"]].append(Edge(r["source"], r["target"], r["type"]))
        return out

    async def impact(
        self, asset_id: str, max_depth: int = 10, limit: int | None = None
    ) -> list[Reached]:
        """Everything downstream: what the asset feeds and what depends on it (nearest
        first; at most ``limit`` assets when given)."""
        return await self._walk(asset_id, q.DOWNSTREAM_HOP, max_depth, limit)

    async def impact_of(
        self, asset_ids: Iterable[str], max_depth: int = 10, limit: int | None = None
    ) -> dict[str, list[Reached]]:
        """``impact`` of many assets, one statement per hop for all of them; ``limit``
        applies to each (an unknown id reaches nothing)."""
        return await self._walks(asset_ids, q.DOWNSTREAM_HOP, max_depth, limit)

    async def root_causes(
        self, asset_id: str, max_depth: int = 10, limit: int | None = None
    ) -> list[Reached]:
        """Everything upstream: what feeds the asset and what it depends on (nearest
        first; at most ``limit`` assets when given)."""
        return await self._walk(asset_id, q.UPSTREAM_HOP, max_depth, limit)

    async def root_causes_of(
        self, asset_ids: Iterable[str], max_depth: int = 10, limit: int | None = None
    ) -> dict[str, list[Reached]]:
        """``root_causes`` of many assets, one statement per hop for all of them;
        ``limit`` applies to each (an unknown id reaches nothing)."""
        return await self._walks(asset_ids, q.UPSTREAM_HOP, max_depth, limit)

    async def _walk(
        self, start: str, hop: LiteralString, max_depth: int, limit: int | None
    ) -> list[Reached]:
        _check_walk(max_depth, limit)
        leaving = await self._edges(hop, [start], max_depth)
        if leaving is None:
            return (await self._walks_by_hop([start], hop, max_depth, limit, check=True))[start]
        if not leaving and not await self._client.read(qa.GET_ASSETS, ids=[start]):
            raise NotFound(f"asset {start} not found")
        return _reach_all(leaving, [start], max_depth, limit)[start]

    async def _walks(
        self, starts: Iterable[str], hop: LiteralString, max_depth: int, limit: int | None
    ) -> dict[str, list[Reached]]:
        _check_walk(max_depth, limit)
        ids = list(dict.fromkeys(starts))
        if not ids:
            return {}
        leaving = await self._edges(hop, ids, max_depth)
        if leaving is None:
            return await self._walks_by_hop(ids, hop, max_depth, limit)
        return _reach_all(leaving, ids, max_depth, limit)

    async def _edges(
        self, hop: LiteralString, starts: list[str], max_depth: int
    ) -> dict[str, list[Row]] | None:
        """Every edge the walks from ``starts`` can take, grouped as a hop's rows; None
        when there are ``walk_edge_cap`` of them or more (walk hop by hop then)."""
        cap = self._walk_edge_cap
        rows = await self._client.read(_WALK[hop][max_depth], starts=starts, cap=cap)
        return None if len(rows) >= cap else _grouped(rows)

    async def _walks_by_hop(
        self,
        starts: list[str],
        hop: LiteralString,
        max_depth: int,
        limit: int | None,
        *,
        check: bool = False,
    ) -> dict[str, list[Reached]]:
        """The walks one statement per hop over the union of their frontiers (``check``:
        NOT_FOUND for an unknown start)."""

        async def work(tx: Tx) -> dict[str, list[Reached]]:
            if check and len(await tx.rows(qa.GET_ASSETS, ids=starts)) < len(starts):
                raise NotFound(f"asset {starts[0]} not found")
            return await _reach_by_hop(tx, hop, starts, max_depth, limit)

        return await self._client.read_tx(work)

    async def shortest_path(
        self, source: str, target: str, *, process_only: bool = False
    ) -> PathResult | None:
        statement = q.SHORTEST_PROCESS_PATH if process_only else q.SHORTEST_PATH
        found = await self._client.read(qa.GET_ASSETS, ids=[source, target])
        missing = {source, target} - {r["id"] for r in found}
        if missing:
            raise NotFound(f"asset(s) not found: {', '.join(sorted(missing))}")
        if source == target:
            return PathResult((source,), ())
        rows = await self._client.read(statement, source=source, target=target)
        if not rows:
            return None
        r = rows[0]
        return PathResult(
            tuple(r["ids"]), tuple(Edge(e["source"], e["target"], e["type"]) for e in r["edges"])
        )

    async def neighbourhood(self, asset_id: str, hops: int = 1) -> Neighbourhood:
        """Nodes and edges within ``hops`` of an asset, for a graph view."""
        found = await self.neighbourhoods_of([asset_id], hops)
        if asset_id not in found:
            raise NotFound(f"asset {asset_id} not found")
        return found[asset_id]

    async def neighbourhoods_of(
        self, asset_ids: Iterable[str], hops: int = 1
    ) -> dict[str, Neighbourhood]:
        """``neighbourhood`` of many assets, one statement per hop for all of them (an
        unknown id has none: it is left out)."""
        if not 1 <= hops <= MAX_NEIGHBOURHOOD_HOPS:
            raise ValidationError(f"hops must be between 1 and {MAX_NEIGHBOURHOOD_HOPS}")
        ids = list(dict.fromkeys(asset_ids))
        if not ids:
            return {}

        async def work(tx: Tx) -> dict[str, Neighbourhood]:
            starts = await tx.rows(qa.GET_ASSETS, ids=ids)
            return await _around_all(tx, starts, hops)

        return await self._client.read_tx(work)


def _check_walk(max_depth: int, limit: int | None) -> None:
    if not 1 <= max_depth <= MAX_WALK_DEPTH:
        raise ValidationError(f"maxDepth must be between 1 and {MAX_WALK_DEPTH}")
    if limit is not None:
        check_limit(limit)


# -- breadth-first walks from many start assets at once ----------------------------------
# Each start keeps its own state; one hop statement runs over the union of the live
# frontiers and each walk takes the rows leaving its own frontier in a fixed order, so a
# walk reaches exactly what it would reach alone, whatever else shares the statement.


@dataclass(slots=True)
class _Reach:
    """One start's impact or root-cause walk: the first path to each asset seen."""

    limit: int | None
    paths: dict[str, tuple[str, ...]]
    frontier: list[str]
    reached: list[Reached] = field(default_factory=list)

    @classmethod
    def start(cls, asset_id: str, limit: int | None) -> _Reach:
        return cls(limit, {asset_id: (asset_id,)}, [asset_id])

    def full(self) -> bool:
        return self.limit is not None and len(self.reached) >= self.limit

    def live(self) -> bool:
        return bool(self.frontier) and not self.full()

    def step(self, distance: int, leaving: dict[str, list[Row]]) -> None:
        """Take the hop's rows leaving this frontier (by from id, asset id, relation) up
        to the limit; what they reach first is the next frontier."""
        nxt: list[str] = []
        for r in (r for fid in sorted(self.frontier) for r in leaving.get(fid, ())):
            if r["id"] in self.paths:
                continue
            if self.full():
                break
            self.paths[r["id"]] = (*self.paths[r["fromId"]], r["id"])
            self.reached.append(
                Reached(
                    r["id"],
                    r["name"],
                    r["type"],
                    distance,
                    r["via"],
                    self.paths[r["id"]],
                    asset_from(r) if "level" in r else None,
                )
            )
            nxt.append(r["id"])
        self.frontier = nxt


@dataclass(slots=True)
class _Around:
    """One start's neighbourhood walk: nodes up to MAX_NEIGHBOURHOOD_NODES, their edges."""

    hood: Neighbourhood
    frontier: list[str]

    @classmethod
    def start(cls, row: Row) -> _Around:
        hood = Neighbourhood()
        hood.nodes[row["id"]] = _graph_node(row["id"], row, row["type"], 0)
        return cls(hood, [row["id"]])

    def step(self, distance: int, leaving: dict[str, list[Row]]) -> None:
        hood, nxt = self.hood, []
        for r in (r for fid in self.frontier for r in leaving.get(fid, ())):
            hood.edges.add(Edge(r["source"], r["target"], r["type"]))
            if r["id"] in hood.nodes:
                continue
            if len(hood.nodes) >= MAX_NEIGHBOURHOOD_NODES:
                hood.truncated = True
                continue
            hood.nodes[r["id"]] = _graph_node(r["id"], r, r["assetType"], distance)
            nxt.append(r["id"])
        self.frontier = nxt

    def finish(self) -> Neighbourhood:
        """The neighbourhood with only the edges between its nodes."""
        nodes = self.hood.nodes
        self.hood.edges = {e for e in self.hood.edges if e.source in nodes and e.target in nodes}
        return self.hood


def _graph_node(asset_id: str, row: Row, asset_type: str, distance: int) -> dict[str, object]:
    return {
        "id": asset_id,
        "name": row["name"],
        "type": asset_type,
        "level": row["level"],
        "distance": distance,
    }


def _reach_all(
    leaving: dict[str, list[Row]], starts: list[str], max_depth: int, limit: int | None
) -> dict[str, list[Reached]]:
    """The walks from ``starts`` over edges already fetched (``_grouped`` rows)."""
    walks = {s: _Reach.start(s, limit) for s in starts}
    for distance in range(1, max_depth + 1):
        live = [w for w in walks.values() if w.live()]
        if not live:
            break
        for w in live:
            w.step(distance, leaving)
    return {s: w.reached for s, w in walks.items()}


async def _reach_by_hop(
    tx: Tx, hop: LiteralString, starts: list[str], max_depth: int, limit: int | None
) -> dict[str, list[Reached]]:
    """The walks from ``starts``, one hop statement per distance."""
    walks = {s: _Reach.start(s, limit) for s in starts}
    for distance in range(1, max_depth + 1):
        live = [w for w in walks.values() if w.live()]
        if not live:
            break
        leaving = await _hop(tx, hop, live, key=_by_id_via)
        for w in live:
            w.step(distance, leaving)
    return {s: w.reached for s, w in walks.items()}


async def _around_all(tx: Tx, starts: list[Row], hops: int) -> dict[str, Neighbourhood]:
    walks = {r["id"]: _Around.start(r) for r in starts}
    for distance in range(1, hops + 1):
        live = [w for w in walks.values() if w.frontier]
        if not live:
            break
        leaving = await _hop(
            tx, q.NEIGHBOUR_HOP, live, key=lambda r: (r["id"], r["type"], r["source"])
        )
        for w in live:
            w.step(distance, leaving)
    return {s: w.finish() for s, w in walks.items()}


async def _hop(
    tx: Tx,
    hop: LiteralString,
    walks: Sequence[_Reach | _Around],
    key: Callable[[Row], tuple[str, ...]],
) -> dict[str, list[Row]]:
    """One hop over the union of the walks' frontiers: rows by the asset they leave, each
    group in ``key`` order."""
    frontier = sorted({fid for w in walks for fid in w.frontier})
    return _grouped(await tx.rows(hop, frontier=frontier), key)


def _by_id_via(r: Row) -> tuple[str, ...]:
    return (r["id"], r["via"])


def _grouped(
    rows: list[Row], key: Callable[[Row], tuple[str, ...]] = _by_id_via
) -> dict[str, list[Row]]:
    """Rows by the asset they leave (``fromId``), each group in ``key`` order."""
    leaving: dict[str, list[Row]] = {}
    for r in sorted(rows, key=key):
        leaving.setdefault(r["fromId"], []).append(r)
    return leaving
