"""Subtree scopes in resolvers: what a scoped token may change, asked where the ids are.

A token limited to asset subtrees (``token:role:name:root1|root2``) may change only
assets at or below its roots and what hangs on them (``api.services.auth.Scopes``):

- assets it creates or moves (the asset if it exists, and its new parent), deletes,
  relates (both ends), maintenance it records (the events' and work orders' assets);
- sensors and actuators: their asset now and, when upserted, their new asset;
- simulation runs it cancels (the run's asset), setpoints (``ControlService``);
- what spans the plant (data sources, importPlant) needs a token without scopes.

Each helper raises the coded ``Forbidden`` naming the asset outside the scope.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from graph.model import Actuator, Asset, Relation, Sensor

if TYPE_CHECKING:
    from api.assets.types import Info

__all__ = [
    "actuators_in_scope",
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
