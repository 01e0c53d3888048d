"""What stands in the way of deleting a node: the history and parts attached to it.

Deleting an asset, sensor or actuator with anything attached is refused (CONFLICT)
unless the caller asks for a cascade, which removes those nodes with it, so nothing is
left unreachable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from graph.errors import Conflict

__all__ = ["DeleteBlockers"]

# Column of the guard statements -> how a person reads it, in the order of messages.
_LABELS = {
    "children": "child assets",
    "sensors": "sensors",
    "actuators": "actuators",
    "maintenance": "maintenance events",
    "workOrders": "work orders",
    "commands": "setpoint commands",
    "alerts": "alerts",
    "simulationRuns": "simulation runs",
    "assessments": "health assessments",
    "anomalyModels": "anomaly models",
    "bindings": "data source bindings",
}


@dataclass(frozen=True, slots=True)
class DeleteBlockers:
    """Counts of what is attached to one node, by guard column (zero counts included)."""

    kind: str  # asset, sensor, actuator
    id: str
    counts: Mapping[str, int]

    @classmethod
    def from_row(cls, kind: str, row: Mapping[str, object]) -> DeleteBlockers:
        counts = {k: int(row[k]) for k in _LABELS if k in row}  # type: ignore[call-overload]
        return cls(kind, str(row["id"]), counts)

    @property
    def blocked(self) -> bool:
        return any(self.counts.values())

    def describe(self) -> str:
        return ", ".join(f"{n} {_LABELS[k]}" for k, n in self.counts.items() if n)

    def conflict(self, what_cascade_removes: str) -> Conflict:
        return Conflict(
            f"{self.kind} {self.id} has {self.describe()}; delete with cascade: true to "
            f"remove it with {what_cascade_removes}",
            details={k: n for k, n in self.counts.items() if n},
        )
