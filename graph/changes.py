"""Registry change notices: what part of the knowledge graph's registry a write touched.

The application layer's registry service publishes one ``RegistryChange`` after each
successful write (an upsert, a delete, an import); the connector manager, the ingest
pipeline's sensor cache and live subscription scopes listen to it. It is defined here, in
the pure kernel, so that ``ingest`` can listen without importing ``api``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["RegistryChange", "RegistryKind", "RegistryListener"]


class RegistryKind(StrEnum):
    ASSETS = "assets"
    SENSORS = "sensors"
    ACTUATORS = "actuators"
    SOURCES = "sources"
    RELATIONS = "relations"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True, slots=True)
class RegistryChange:
    """The kinds a write touched (an import touches all of them)."""

    kinds: frozenset[RegistryKind]

    def __post_init__(self) -> None:
        if not self.kinds:
            raise ValueError("a registry change touches at least one kind")
        object.__setattr__(self, "kinds", frozenset(RegistryKind(k) for k in self.kinds))

    @classmethod
    def of(cls, *kinds: RegistryKind) -> RegistryChange:
        return cls(frozenset(kinds))

    @classmethod
    def everything(cls) -> RegistryChange:
        return cls(frozenset(RegistryKind))

    def touches(self, *kinds: RegistryKind) -> bool:
        return not self.kinds.isdisjoint(kinds)


RegistryListener = Callable[[RegistryChange], Awaitable[None]]
"""A coroutine told of each change; a failing listener is logged, never fatal to the write."""
