"""Test plants and ONE ``register``: a ``Plant`` holds the assets, sensors, actuators and
relations a test needs (as GraphQL input dicts), ``register(api, plant)`` upserts them
through the served app in one mutation.

``pump_line`` (a site, a line, a tank feeding ``pumps`` pumps with pressure, flow and speed)
and ``controlled_pump`` (a pump with a temperature sensor and two actuators) are the plants
several test modules share; a module's own plant is a function returning a ``Plant``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tests.support.app import Api
from tests.support.tokens import ADMIN

__all__ = ["Plant", "controlled_pump", "pump_line", "register"]

Item = dict[str, Any]

# GraphQL argument of each part: (variable type, mutation field and its selection)
_PARTS = {
    "assets": ("[AssetInput!]!", "upsertAssets(assets: $assets) { id }"),
    "sensors": ("[SensorInput!]!", "upsertSensors(sensors: $sensors) { id }"),
    "actuators": ("[ActuatorInput!]!", "upsertActuators(actuators: $actuators) { id }"),
    "relations": ("[RelationInput!]!", "connectAssets(relations: $relations)"),
}


@dataclass
class Plant:
    assets: list[Item] = field(default_factory=list)
    sensors: list[Item] = field(default_factory=list)
    actuators: list[Item] = field(default_factory=list)
    relations: list[Item] = field(default_factory=list)

    @classmethod
    def of(cls, parts: Mapping[str, list[Item]]) -> Plant:
        """From ``{"assets": [...], "sensors": [...], ...}`` (the mutation's variables)."""
        unknown = set(parts) - set(_PARTS)
        if unknown:
            raise ValueError(f"not parts of a plant: {sorted(unknown)}")
        return cls(**{k: list(v) for k, v in parts.items()})

    def variables(self) -> dict[str, list[Item]]:
        """The non-empty parts, in upsert order (assets before what hangs on them)."""
        return {k: getattr(self, k) for k in _PARTS if getattr(self, k)}

    def mutation(self) -> str:
        parts = self.variables()
        args = ", ".join(f"${k}: {_PARTS[k][0]}" for k in parts)
        body = "\n  ".join(_PARTS[k][1] for k in parts)
        return f"mutation({args}) {{\n  {body}\n}}"


async def register(api: Api, plant: Plant, token: str | None = ADMIN) -> None:
    """Upsert ``plant`` through the served app's GraphQL API (fails the test on errors)."""
    await api.ok(plant.mutation(), plant.variables(), token=token)


def pump_line(u: str, pumps: int = 3) -> Plant:
    assets = [
        {"id": f"{u}-site", "name": "Site", "type": "site", "level": "SITE"},
        {
            "id": f"{u}-line",
            "name": "Line",
            "type": "line",
            "level": "LINE",
            "parentId": f"{u}-site",
        },
        {
            "id": f"{u}-tank",
            "name": "Tank",
            "type": "tank",
            "level": "EQUIPMENT",
            "parentId": f"{u}-line",
        },
    ]
    sensors, actuators, relations = [], [], []
    for i in range(pumps):
        pid = f"{u}-p{i}"
        assets.append(
            {
                "id": pid,
                "name": f"Pump {i}",
                "type": "pump",
                "level": "EQUIPMENT",
                "parentId": f"{u}-line",
                "metadata": {"rated_kw": 30},
            }
        )
        sensors += [
            {
                "id": f"{pid}-pt",
                "assetId": pid,
                "name": "Pressure",
                "kind": "pressure",
                "unit": "bar",
                "minValue": 0,
                "maxValue": 16,
            },
            {"id": f"{pid}-ft", "assetId": pid, "name": "Flow", "kind": "flow", "unit": "m3/h"},
        ]
        actuators.append(
            {
                "id": f"{pid}-sp",
                "assetId": pid,
                "name": "Speed",
                "unit": "rpm",
                "minValue": 0,
                "maxValue": 3000,
            }
        )
        relations.append({"sourceId": f"{u}-tank", "targetId": pid, "type": "FEEDS"})
    return Plant(assets, sensors, actuators, relations)


def controlled_pump(u: str) -> Plant:
    return Plant.of(
        {
            "assets": [
                {"id": f"{u}-line", "name": "Line", "type": "line", "level": "LINE"},
                {
                    "id": f"{u}-pump",
                    "name": "Pump",
                    "type": "pump",
                    "level": "EQUIPMENT",
                    "parentId": f"{u}-line",
                },
            ],
            "sensors": [
                {
                    "id": f"{u}-temp",
                    "assetId": f"{u}-pump",
                    "name": "Temp",
                    "kind": "temperature",
                    "unit": "degC",
                    "minValue": -50,
                    "maxValue": 500,
                }
            ],
            "actuators": [
                {
                    "id": f"{u}-speed",
                    "assetId": f"{u}-pump",
                    "name": "Speed",
                    "unit": "rpm",
                    "minValue": 0,
                    "maxValue": 3000,
                },
                {
                    "id": f"{u}-valve",
                    "assetId": f"{u}-pump",
                    "name": "Valve",
                    "unit": "%",
                    "minValue": 0,
                    "maxValue": 100,
                },
            ],
        },
    )
