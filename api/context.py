"""Per-request context: the caller, the services, and fresh DataLoaders.

Every field that fans out (sensors, actuators, latest values, relations, work orders)
resolves through a loader created here, per request (cursor pages of children and
maintenance through the page loaders of ``api.types.pages``), so a tree of N assets costs a
bounded number of store round trips. ``load_fn`` returns one entry per key, in key
order; a missing key yields a ``NotFound`` instance (or an empty list for lists).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from api.auth import ANONYMOUS, Principal, require
from api.services import Services
from graph.errors import NotFound, TwinqlError
from graph.model import Actuator, Asset, Sensor

__all__ = ["Context", "Loaders"]

K = TypeVar("K")
V = TypeVar("V")


def _by_key(
    fetch: Callable[[list[K]], Awaitable[dict[K, V]]], what: str
) -> Callable[[list[K]], Awaitable[list[V | BaseException]]]:
    async def load(keys: list[K]) -> list[V | BaseException]:
        found = await fetch(list(keys))
        return [found[k] if k in found else NotFound(f"{what} {k} not found") for k in keys]

    return load


def _lists(
    fetch: Callable[[list[K]], Awaitable[dict[K, list[V]]]],
) -> Callable[[list[K]], Awaitable[list[list[V]]]]:
    async def load(keys: list[K]) -> list[list[V]]:
        found = await fetch(list(keys))
        return [found.get(k, []) for k in keys]

    return load


class Loaders:
    def __init__(self, services: Services) -> None:
        repo = services.repo
        self.asset = DataLoader[str, Asset](_by_key(repo.assets.get_many, "asset"))
        self.sensors_of = DataLoader[str, list[Sensor]](_lists(repo.devices.sensors_of))
        self.actuators_of = DataLoader[str, list[Actuator]](_lists(repo.devices.actuators_of))
        self.sensor = DataLoader[str, Sensor](_by_key(repo.devices.sensors, "sensor"))
        self.actuator = DataLoader[str, Actuator](_by_key(repo.devices.actuators, "actuator"))
        self.relations = DataLoader(_lists(repo.topology.relations_of))
        self.work_orders = DataLoader(_lists(repo.maintenance.work_orders))
        self.extra: dict[str, DataLoader[Any, Any]] = {}


@dataclass
class Context:
    services: Services
    principal: Principal | None
    request: Any = None
    response: Any = None
    connection_params: dict[str, Any] | None = None
    auth_error: TwinqlError | None = None
    _loaders: Loaders | None = field(default=None, repr=False)

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.services)
        return self._loaders

    @property
    def repo(self):  # noqa: ANN201 - GraphRepository, kept lazy for readiness
        return self.services.repo

    def reader(self) -> Principal:
        """Queries: a token, or anonymous when the deployment allows anonymous reads."""
        if self.auth_error is not None:
            raise self.auth_error
        if self.principal is None and self.services.settings.allow_anonymous_read:
            return ANONYMOUS
        return require(self.principal, "viewer")

    def need(self, role: str) -> Principal:
        if self.auth_error is not None:
            raise self.auth_error
        return require(self.principal, role)

    def loader(
        self, name: str, factory: Callable[[], DataLoader[Any, Any]]
    ) -> DataLoader[Any, Any]:
        """A named per-request loader added by a later layer (readings, status, ...)."""
        extra = self.loaders.extra
        if name not in extra:
            extra[name] = factory()
        return extra[name]


def ids(items: Sequence[Any]) -> list[str]:
    return [i.id for i in items]
