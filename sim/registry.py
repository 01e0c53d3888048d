"""The model registry: every built-in model by name."""

from __future__ import annotations

from types import MappingProxyType

from graph.errors import NotFound
from sim.model import Model
from sim.models import HvacZoneModel, MotorThermalModel, PumpModel, TankModel, ValveModel

__all__ = ["MODELS", "get_model"]

MODELS: MappingProxyType[str, Model] = MappingProxyType(
    {
        m.name: m
        for m in (PumpModel(), TankModel(), MotorThermalModel(), HvacZoneModel(), ValveModel())
    }
)


def get_model(name: str) -> Model:
    """The registered model called ``name``; ``NotFound`` otherwise."""
    try:
        return MODELS[name]
    except (KeyError, TypeError):
        raise NotFound(
            f"no simulation model {name!r}; known: {', '.join(sorted(MODELS))}",
            details={"model": name},
        ) from None
