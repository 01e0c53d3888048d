"""Assets and the ISA-95 hierarchy: registration, lookups, subtree, ancestors, deletion."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from graph.bolt import rows as _rows
from graph.bolt.blockers import DeleteBlockers
from graph.bolt.client import GraphClient, Tx
from graph.bolt.cypher import assets as q
from graph.errors import Conflict, NotFound, ValidationError
from graph.model import Asset, AssetLevel, Sensor
from graph.timeutil import iso, utcnow

__all__ = ["AssetPage", "AssetRepository", "DeleteBlockers", "TreeNode"]

MAX_DEPTH = 12
MAX_LIMIT = 10_000  # rows of a subtree or a walk one request may ask for


@dataclass(frozen=True, slots=True)
class TreeNode:
    asset: Asset
    depth: int
    # The asset's sensors when asked with the tree (not compared: a tree without them
    # is the same tree).
    sensors: list[Sensor] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class AssetPage:
    items: list[Asset]
    has_next: bool
    sensors: dict[str, list[Sensor]] | None = None  # by asset id, when asked with the page


class AssetRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    # -- writes ----------------------------------------------------------------------
    async def upsert(self, assets: Sequence[Asset]) -> None:
        """Create or update assets and their PART_OF edges, all in one transaction."""
        await self._client.write_tx(lambda tx: self.upsert_in(tx, assets))

    async def upsert_in(self, tx: Tx, assets: Sequence[Asset], *, checked: bool = False) -> None:
        if not assets:
            return
        if not checked:
            await self._check_hierarchy(tx, assets)
        rows = [_rows.asset_row(a) for a in assets]
        now = iso(utcnow())
        await tx.batched_now(q.UPSERT_ASSETS, rows, now)
        await tx.batched(q.DETACH_FROM_PARENT, rows)
        await tx.batched(q.LINK_TO_PARENT, [r for r in rows if r["parent"] is not None])

    async def _check_hierarchy(self, tx: Tx, assets: Sequence[Asset]) -> None:
        """Parents exist, levels descend, and no asset becomes its own ancestor."""
        by_id = {a.id: a for a in assets}
        if len(by_id) != len(assets):
            raise ValidationError("the same asset id appears twice in one request")
        outside = sorted({a.parent_id for a in assets if a.parent_id} - by_id.keys())
        known: dict[str, Asset] = {}
        if outside:
            rows = await tx.rows(q.GET_ASSETS, ids=outside)
            known = {r["id"]: _rows.asset_from(r) for r in rows}
            missing = [pid for pid in outside if pid not in known]
            if missing:
                raise NotFound(f"parent asset(s) not found: {', '.join(missing)}")
        for a in assets:
            if a.parent_id is None:
                continue
            parent = by_id.get(a.parent_id) or known[a.parent_id]
            if a.level.rank <= parent.level.rank:
                raise ValidationError(
                    f"asset {a.id} ({a.level.value}) cannot be part of {parent.id} "
                    f"({parent.level.value}): ISA-95 levels must descend"
                )
        # A re-parented existing asset must not land under its own subtree.
        moved = [a for a in assets if a.parent_id is not None and a.parent_id not in by_id]
        if moved:
            rows = await tx.rows(q.ANCESTORS, ids=sorted({a.parent_id for a in moved}))
            above = {(r["key"], r["id"]) for r in rows}
            for a in moved:
                if (a.parent_id, a.id) in above:
                    raise Conflict(f"moving {a.id} under {a.parent_id} would create a cycle")
        _check_batch_cycles(by_id)

    async def delete(self, asset_id: str, *, cascade: bool = False) -> list[str]:
        """Delete an asset. With children, sensors, actuators or any history attached it
        needs ``cascade``, which removes the whole subtree and everything attached to
        it: sensors with their alerts, actuators with their setpoint commands (the audit
        trail), maintenance, work orders, alerts, simulation runs, assessments and anomaly models. Data
        sources stay (they lose the bindings); readings stay in the readings store."""

        async def work(tx: Tx) -> list[str]:
            rows = await tx.rows(q.SUBTREE_IDS, id=asset_id)
            if not rows:
                raise NotFound(f"asset {asset_id} not found")
            ids = [asset_id, *rows[0]["ids"]]
            if not cascade:
                blockers = (await _blockers(tx, [asset_id]))[asset_id]
                if blockers.blocked:
                    raise blockers.conflict("everything under and attached to it")
                await tx.run(q.DELETE_ASSETS, ids=[asset_id])  # only process relations go
                return [asset_id]
            for statement in q.CASCADE_ORDER:
                await tx.run(statement, ids=ids)
            await tx.run(q.DELETE_ASSETS, ids=ids)
            return ids

        return await self._client.write_tx(work)

    # -- reads -----------------------------------------------------------------------
    async def get_many(self, ids: Iterable[str]) -> dict[str, Asset]:
        ids = list(dict.fromkeys(ids))
        if not ids:
            return {}
        rows = await self._client.read(q.GET_ASSETS, ids=ids)
        return {r["id"]: _rows.asset_from(r) for r in rows}

    async def get(self, asset_id: str) -> Asset:
        found = await self.get_many([asset_id])
        if asset_id not in found:
            raise NotFound(f"asset {asset_id} not found")
        return found[asset_id]

    async def children_of(self, parent_ids: Iterable[str]) -> dict[str, list[Asset]]:
        ids = list(dict.fromkeys(parent_ids))
        out: dict[str, list[Asset]] = {pid: [] for pid in ids}
        if ids:
            for r in await self._client.read(q.CHILDREN_OF, ids=ids):
                out[r["parentKey"]].append(_rows.asset_from(r))
        return out

    async def children_pages(
        self, requests: Sequence[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], AssetPage]:
        """A page of children per ``(parent id, after id, limit)``, ordered by id and cut
        in the graph: one statement for all the parents of a tree level."""
        reqs = list(dict.fromkeys(requests))
        found: list[list[Asset]] = [[] for _ in reqs]
        if reqs:
            rows = [
                {"i": i, "id": pid, "after": after, "limit": limit + 1}
                for i, (pid, after, limit) in enumerate(reqs)
            ]
            for r in await self._client.read(q.CHILDREN_PAGES, rows=rows):
                found[r["key"]].append(_rows.asset_from(r))
        return {
            req: AssetPage(items=kids[: req[2]], has_next=len(kids) > req[2])
            for req, kids in zip(reqs, found, strict=True)
        }

    async def children_pages_with_sensors(
        self, requests: Sequence[tuple[str, str, int]]
    ) -> dict[tuple[str, str, int], AssetPage]:
        """``children_pages`` with each child's sensors (``AssetPage.sensors``, ordered
        by id), in the same statement."""
        reqs = list(dict.fromkeys(requests))
        found: list[list[Asset]] = [[] for _ in reqs]
        sensors: list[dict[str, list[Sensor]]] = [{} for _ in reqs]
        if reqs:
            rows = [
                {"i": i, "id": pid, "after": after, "limit": limit + 1}
                for i, (pid, after, limit) in enumerate(reqs)
            ]
            for r in await self._client.read(q.CHILDREN_PAGES_WITH_SENSORS, rows=rows):
                found[r["key"]].append(_rows.asset_from(r))
                sensors[r["key"]][r["id"]] = [_rows.sensor_from(s) for s in r["sensors"]]
        return {
            req: AssetPage(
                items=kids[: req[2]],
                has_next=len(kids) > req[2],
                sensors={a.id: by_asset[a.id] for a in kids[: req[2]]},
            )
            for req, kids, by_asset in zip(reqs, found, sensors, strict=True)
        }

    async def page(
        self,
        *,
        after: str = "",
        limit: int = 50,
        level: AssetLevel | None = None,
        type: str | None = None,
        text: str | None = None,
        roots_only: bool = False,
        scope: Collection[str] | None = None,
    ) -> AssetPage:
        """A page of assets ordered by id; with ``scope`` (asset ids, a scoped token's
        assets), only those, and the roots among them are the scope's own roots."""
        if roots_only and scope is not None:
            rows = await self._client.read(
                q.SCOPE_ROOTS, after=after, limit=limit + 1, scope=list(scope)
            )
        elif roots_only:
            rows = await self._client.read(q.ROOTS, after=after, limit=limit + 1)
        else:
            rows = await self._client.read(
                q.LIST_ASSETS,
                after=after,
                limit=limit + 1,
                level=level.value if level else None,
                type=type,
                text=text.lower() if text else None,
                scope=None if scope is None else list(scope),
            )
        items = [_rows.asset_from(r) for r in rows]
        return AssetPage(items=items[:limit], has_next=len(items) > limit)

    async def subtree(
        self, asset_id: str, depth: int = 3, limit: int | None = None
    ) -> list[TreeNode]:
        """Assets below ``asset_id`` to ``depth``, nearest first (by depth, then id);
        at most ``limit`` of them when given."""
        _check_depth(depth)
        await self.get(asset_id)
        return (await self.subtrees_of([asset_id], depth, limit))[asset_id]

    async def subtrees_of(
        self, asset_ids: Iterable[str], depth: int = 3, limit: int | None = None
    ) -> dict[str, list[TreeNode]]:
        """``subtree`` of many assets in one statement, ``limit`` applying to each of them
        (an unknown id has an empty subtree)."""
        _check_depth(depth)
        ids = list(dict.fromkeys(asset_ids))
        if not ids:
            return {}
        if limit is None:
            rows = await self._client.read(q.SUBTREES, ids=ids, depth=depth)
        else:
            check_limit(limit)
            rows = await self._client.read(q.SUBTREES_LIMITED, ids=ids, depth=depth, limit=limit)
        return _tree_nodes(ids, rows)

    async def subtrees_with_sensors_of(
        self, asset_ids: Iterable[str], depth: int = 3, limit: int = MAX_LIMIT
    ) -> dict[str, list[TreeNode]]:
        """``subtrees_of`` with each asset's sensors (``TreeNode.sensors``, by id), in the
        same statement."""
        _check_depth(depth)
        check_limit(limit)
        ids = list(dict.fromkeys(asset_ids))
        out: dict[str, list[TreeNode]] = {i: [] for i in ids}
        if ids:
            rows = await self._client.read(
                q.SUBTREES_LIMITED_WITH_SENSORS, ids=ids, depth=depth, limit=limit
            )
            for r in rows:
                out[r["key"]].append(
                    TreeNode(
                        _rows.asset_from(r),
                        int(r["depth"]),
                        [_rows.sensor_from(s) for s in r["sensors"]],
                    )
                )
        return out

    async def ids_under(self, roots: Iterable[str]) -> set[str]:
        """The ids of the ``roots`` that exist and of every asset below them."""
        ids = list(dict.fromkeys(roots))
        if not ids:
            return set()
        rows = await self._client.read(q.SUBTREES_IDS, ids=ids)
        return {i for r in rows for i in (r["rootId"], *r["ids"])}

    async def ancestors(self, asset_id: str) -> list[TreeNode]:
        """Parent, grandparent, ... up to the root (depth 1 is the parent)."""
        await self.get(asset_id)
        return (await self.ancestors_of([asset_id]))[asset_id]

    async def ancestors_of(self, asset_ids: Iterable[str]) -> dict[str, list[TreeNode]]:
        """``ancestors`` of many assets in one statement (an unknown id has none)."""
        ids = list(dict.fromkeys(asset_ids))
        if not ids:
            return {}
        return _tree_nodes(ids, await self._client.read(q.ANCESTORS, ids=ids))

    async def delete_blockers(self, ids: Sequence[str]) -> dict[str, DeleteBlockers]:
        return await self._client.read_tx(lambda tx: _blockers(tx, ids))

    async def set_specs_in(self, tx: Tx, rows: Sequence[dict[str, object]]) -> None:
        """Store simulation/station specs: rows of ``{id, sim, station}`` (dicts or None)."""
        await tx.batched(
            q.SET_SPECS,
            [
                {
                    "id": r["id"],
                    "sim": _rows.dump_map(r.get("sim")),  # type: ignore[arg-type]
                    "station": _rows.dump_map(r.get("station")),  # type: ignore[arg-type]
                }
                for r in rows
            ],
        )

    async def specs(self, ids: Iterable[str]) -> dict[str, dict[str, dict[str, object]]]:
        """``{asset id: {"sim": {...}, "station": {...}}}`` for assets that have specs."""
        rows = await self._client.read(q.GET_SPECS, ids=list(dict.fromkeys(ids)))
        return {
            r["id"]: {"sim": _rows.load_map(r["sim"]), "station": _rows.load_map(r["station"])}
            for r in rows
        }

    async def set_sim_spec(self, asset_id: str, sim: dict[str, object]) -> None:
        rows = await self._client.write(
            q.SET_SIM_PARAMETERS, id=asset_id, sim=_rows.dump_map(sim), now=iso(utcnow())
        )
        if not rows:
            raise NotFound(f"asset {asset_id} not found")

    async def counts(self) -> dict[str, int]:
        rows = await self._client.read(q.COUNT_BY_LABEL)
        return {k: int(v) for k, v in rows[0].items()}


async def _blockers(tx: Tx, ids: Sequence[str]) -> dict[str, DeleteBlockers]:
    rows = await tx.rows(q.DELETE_GUARDS, ids=list(ids))
    return {r["id"]: DeleteBlockers.from_row("asset", r) for r in rows}


def _tree_nodes(ids: list[str], rows: list[_rows.Row]) -> dict[str, list[TreeNode]]:
    """Rows keyed by their start asset (in the statement's order) as tree nodes per id."""
    out: dict[str, list[TreeNode]] = {i: [] for i in ids}
    for r in rows:
        out[r["key"]].append(TreeNode(_rows.asset_from(r), int(r["depth"])))
    return out


def check_limit(limit: int) -> None:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")


def _check_depth(depth: int) -> None:
    if not 1 <= depth <= MAX_DEPTH:
        raise ValidationError(f"depth must be between 1 and {MAX_DEPTH}, got {depth}")


def _check_batch_cycles(by_id: dict[str, Asset]) -> None:
    for start in by_id:
        seen = {start}
        cur = by_id[start].parent_id
        while cur in by_id:
            if cur in seen:
                raise Conflict(f"assets {', '.join(sorted(seen))} form a PART_OF cycle")
            seen.add(cur)
            cur = by_id[cur].parent_id
