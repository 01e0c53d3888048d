"""Process relations and the graph questions analysts ask of them.

Impact (downstream) and root cause (upstream) walk breadth first, one statement per
hop over the whole frontier: distances are exact, cycles (recirculation loops) are
harmless, and a walk of depth d costs d round trips whatever the plant's size.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import LiteralString

from graph.assets import check_limit
from graph.client import GraphClient, Tx
from graph.cypher import assets as qa
from graph.cypher import relations as q
from graph.errors import NotFound, ValidationError
from graph.model import Relation, RelationType

__all__ = ["Edge", "Neighbourhood", "PathResult", "Reached", "TopologyRepository"]

MAX_WALK_DEPTH = 25
MAX_NEIGHBOURHOOD_HOPS = 4
MAX_NEIGHBOURHOOD_NODES = 2_000

_MERGE: dict[RelationType, LiteralString] = {
    RelationType.FEEDS: q.MERGE_FEEDS,
    RelationType.DEPENDS_ON: q.MERGE_DEPENDS_ON,
    RelationType.CONNECTED_TO: q.MERGE_CONNECTED_TO,
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
    def __init__(self, client: GraphClient) -> None:
        self._client = client

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

    async def root_causes(
        self, asset_id: str, max_depth: int = 10, limit: int | None = None
    ) -> list[Reached]:
        """Everything upstream: what feeds the asset and what it depends on (nearest
        first; at most ``limit`` assets when given)."""
        return await self._walk(asset_id, q.UPSTREAM_HOP, max_depth, limit)

    async def _walk(
        self, start: str, hop: LiteralString, max_depth: int, limit: int | None
    ) -> list[Reached]:
        if not 1 <= max_depth <= MAX_WALK_DEPTH:
            raise ValidationError(f"maxDepth must be between 1 and {MAX_WALK_DEPTH}")
        if limit is not None:
            check_limit(limit)
        most = limit

        async def work(tx: Tx) -> list[Reached]:
            if not await tx.rows(qa.GET_ASSETS, ids=[start]):
                raise NotFound(f"asset {start} not found")
            paths: dict[str, tuple[str, ...]] = {start: (start,)}
            reached: list[Reached] = []
            frontier = [start]
            for distance in range(1, max_depth + 1):
                if not frontier or (most is not None and len(reached) >= most):
                    break
                rows = await tx.rows(hop, frontier=frontier)
                rows.sort(key=lambda r: (r["fromId"], r["id"], r["via"]))
                nxt: list[str] = []
                for r in rows:
                    if r["id"] in paths:
                        continue
                    if most is not None and len(reached) >= most:
                        break
                    paths[r["id"]] = (*paths[r["fromId"]], r["id"])
                    reached.append(
                        Reached(r["id"], r["name"], r["type"], distance, r["via"], paths[r["id"]])
                    )
                    nxt.append(r["id"])
                frontier = nxt
            return reached

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
        if not 1 <= hops <= MAX_NEIGHBOURHOOD_HOPS:
            raise ValidationError(f"hops must be between 1 and {MAX_NEIGHBOURHOOD_HOPS}")

        async def work(tx: Tx) -> Neighbourhood:
            start = await tx.rows(qa.GET_ASSETS, ids=[asset_id])
            if not start:
                raise NotFound(f"asset {asset_id} not found")
            s = start[0]
            hood = Neighbourhood()
            hood.nodes[asset_id] = {
                "id": asset_id,
                "name": s["name"],
                "type": s["type"],
                "level": s["level"],
                "distance": 0,
            }
            frontier = [asset_id]
            for distance in range(1, hops + 1):
                if not frontier:
                    break
                nxt = []
                for r in await tx.rows(q.NEIGHBOUR_HOP, frontier=frontier):
                    hood.edges.add(Edge(r["source"], r["target"], r["type"]))
                    if r["id"] in hood.nodes:
                        continue
                    if len(hood.nodes) >= MAX_NEIGHBOURHOOD_NODES:
                        hood.truncated = True
                        continue
                    hood.nodes[r["id"]] = {
                        "id": r["id"],
                        "name": r["name"],
                        "type": r["assetType"],
                        "level": r["level"],
                        "distance": distance,
                    }
                    nxt.append(r["id"])
                frontier = nxt
            hood.edges = {
                e for e in hood.edges if e.source in hood.nodes and e.target in hood.nodes
            }
            return hood

        return await self._client.read_tx(work)
