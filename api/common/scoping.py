"""Subtree scopes in resolvers: what a scoped token may change, asked where the ids are.

A token limited to asset subtrees (``token:role:name:root1|root2``) may change only
assets at or below its roots and what hangs on them (``api.services.auth.Scopes``):

- assets it creates or moves (the asset if it exists, and its new parent), deletes,
  relates (both ends), maintenance it records (the events' and work orders' assets);
- sensors and actuators: their asset now and, when upserted, their new asset;
- simulation runs it cancels (the run's asset), setpoints (``ControlService``);
- what spans the plant (data sources, importPlant) needs a token without scopes.

Each helper raises the coded ``Forbidden`` naming the asset outside the scope.

What a scoped token may *see* (queries and subscriptions) is the same forest: the assets
at or below its roots, their sensors, actuators, readings, alerts, maintenance, work
orders, simulation runs and setpoint commands. The set of those asset ids is read once
per request (one statement, ``Scopes.visible``; nothing for a token without scopes) and:

- a lookup of something outside answers exactly as an unknown id: ``null`` where the
  field is nullable, ``NOT_FOUND`` with the unknown id's message otherwise (existence
  does not leak);
- lists are cut in the store: the visible ids are a parameter of the statement
  (``assets``, ``alerts``, ``workOrders``);
- walks and views that can leave the forest (parent, ancestors, relations, impact, root
  causes, neighbourhoods, paths) stop at its edge: what lies outside, or is reached only
  through something outside, is left out;
- what spans the plant (data sources and their status, graph statistics, service
  counters, dead letters of every sensor) answers ``FORBIDDEN``: it needs a token
  without scopes, as the matching mutations do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

from graphql import OperationType
from strawberry.dataloader import DataLoader

from graph.bolt.topology import Neighbourhood, Reached
from graph.errors import NotFound
from graph.model import Actuator, Asset, Relation, Sensor

if TYPE_CHECKING:
    from api.assets.types import Info

__all__ = [
    "actuators_in_scope",
    "plant_wide_read",
    "seen",
    "keep",
    "visible_part",
    "walked",
    "seen_all",
    "see_or_not_found",
    "visible",
    "assets_in_scope",
    "place_in_scope",
    "relations_in_scope",
    "sensors_in_scope",
    "whole_plant",
]


async def assets_in_scope(info: Info, asset_ids: Iterable[str]) -> None:
    await info.context.services.scopes.check_all(info.context.caller, asset_ids)


def whole_plant(info: Info, what: str) -> None:
    info.context.services.scopes.whole_plant(info.context.caller, what)


async def place_in_scope(info: Info, assets: Sequence[Asset]) -> None:
    await info.context.services.scopes.place(info.context.caller, assets)


async def relations_in_scope(info: Info, relations: Iterable[Relation]) -> None:
    ids = [i for r in relations for i in (r.source_id, r.target_id)]
    await assets_in_scope(info, ids)


async def sensors_in_scope(
    info: Info, sensor_ids: Iterable[str], new: Sequence[Sensor] = ()
) -> None:
    """The sensors' assets now (unknown sensors have none) and the ones they move to."""
    if not info.context.caller.scopes:
        return
    found = await info.context.repo.devices.sensors(sensor_ids)
    await assets_in_scope(info, [*(s.asset_id for s in found.values()), *(s.asset_id for s in new)])


async def actuators_in_scope(
    info: Info, actuator_ids: Iterable[str], new: Sequence[Actuator] = ()
) -> None:
    if not info.context.caller.scopes:
        return
    found = await info.context.repo.devices.actuators(actuator_ids)
    await assets_in_scope(info, [*(x.asset_id for x in found.values()), *(x.asset_id for x in new)])


# -- reads ----------------------------------------------------------------------------

T = TypeVar("T")


async def visible(info: Info) -> frozenset[str] | None:
    """The asset ids the caller may see, read once per request; None: the whole plant."""
    caller = info.context.caller
    if not caller.scopes:
        return None
    scopes = info.context.services.scopes
    if info.operation.operation is OperationType.SUBSCRIPTION:
        # a WebSocket connection's context lives long: read the scope afresh
        return await scopes.visible(caller)

    async def load(keys: list[str]) -> list[frozenset[str] | None]:
        found = await scopes.visible(caller)
        return [found for _ in keys]

    loader = info.context.loader("visible_assets", lambda: DataLoader(load_fn=load))
    found: frozenset[str] | None = await loader.load("scope")
    return found


async def seen(info: Info, asset_id: str | None) -> bool:
    """Whether the caller may see the asset (an unscoped caller sees every asset)."""
    ids = await visible(info)
    return ids is None or (asset_id is not None and asset_id in ids)


async def seen_all(info: Info, asset_ids: Iterable[str]) -> bool:
    ids = await visible(info)
    return ids is None or all(i in ids for i in asset_ids)


async def see_or_not_found(info: Info, asset_id: str | None, message: str) -> None:
    """``NotFound(message)`` (the unknown id's own message) unless the caller sees it."""
    if not await seen(info, asset_id):
        raise NotFound(message)


async def keep(
    info: Info, items: Iterable[T], *asset_ids_of: Callable[[T], Iterable[str]]
) -> list[T]:
    """The items whose assets (every id each function gives) the caller sees."""
    found = list(items)
    ids = await visible(info)
    if ids is None:
        return found
    return [x for x in found if all(i in ids for f in asset_ids_of for i in f(x))]


def plant_wide_read(info: Info, what: str) -> None:
    """Forbidden for a scoped caller: ``what`` spans the plant."""
    info.context.services.scopes.whole_plant(info.context.caller, what)


def walked(r: Reached) -> tuple[str, ...]:
    """A walk's asset and every asset on the path that reached it (for ``keep``)."""
    return (r.id, *r.path)


async def visible_part(info: Info, hood: Neighbourhood, start: str) -> Neighbourhood:
    """The part of a neighbourhood the caller sees: the nodes reached from ``start``
    through visible nodes only (their distances counted that way), and the edges
    between them."""
    ids = await visible(info)
    if ids is None:
        return hood
    edges = {e for e in hood.edges if e.source in ids and e.target in ids}
    distance = {start: 0} if start in ids else {}
    frontier = set(distance)
    while frontier:
        nxt: set[str] = set()
        for e in edges:
            for a, b in ((e.source, e.target), (e.target, e.source)):
                if a in frontier and b in hood.nodes and b not in distance:
                    distance[b] = distance[a] + 1
                    nxt.add(b)
        frontier = nxt
    return Neighbourhood(
        nodes={i: {**n, "distance": distance[i]} for i, n in hood.nodes.items() if i in distance},
        edges={e for e in edges if e.source in distance and e.target in distance},
        truncated=hood.truncated,
    )
