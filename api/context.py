"""Per-request context: the caller, the services, and fresh DataLoaders.

Every field that fans out (sensors, actuators, latest values, relations, work orders,
ancestors, subtrees and walks) resolves through a loader created here, per request (cursor
pages of children and maintenance through the page loaders of ``api.assets.pages``), so a
tree of N assets costs a bounded number of store round trips. ``load_fn`` returns one
entry per key, in key order; a missing key yields a ``NotFound`` instance (or an empty
list for lists). Fields with arguments are keyed by ``(asset id, *arguments)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader

from api.services.auth import ANONYMOUS, Principal, require
from api.services.container import Services
from graph.bolt.assets import TreeNode
from graph.bolt.repository import GraphRepository
from graph.bolt.topology import Neighbourhood, Reached
from graph.errors import NotFound, TwinqlError, Unauthenticated
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


def _per_arguments(
    fetch: Callable[..., Awaitable[dict[str, V]]],
) -> Callable[[list[tuple[Any, ...]]], Awaitable[list[V | BaseException]]]:
    """A ``load_fn`` over keys ``(asset id, *arguments)``: one ``fetch(ids, *arguments)``
    per distinct arguments, so every asset asking for a field with the same arguments
    loads at once. A refused call (say, a limit out of range) fails only its own keys."""

    async def load(keys: list[tuple[Any, ...]]) -> list[V | BaseException]:
        groups: dict[tuple[Any, ...], list[str]] = {}
        for asset_id, *rest in keys:
            groups.setdefault(tuple(rest), []).append(asset_id)
        found: dict[tuple[Any, ...], V | BaseException] = {}
        for arguments, ids in groups.items():
            for asset_id, value in (await _fetch_group(fetch, ids, arguments)).items():
                found[(asset_id, *arguments)] = value
        return [found[k] for k in keys]

    return load


async def _fetch_group(
    fetch: Callable[..., Awaitable[dict[str, V]]], ids: list[str], arguments: tuple[Any, ...]
) -> dict[str, V | BaseException]:
    try:
        got = await fetch(ids, *arguments)
    except TwinqlError as exc:
        return dict.fromkeys(ids, exc)
    return {i: got[i] if i in got else NotFound(f"asset {i} not found") for i in ids}


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
        self.ancestors = DataLoader[str, list[TreeNode]](_lists(repo.assets.ancestors_of))
        # keyed (asset id, depth, limit), (asset id, max depth, limit), (asset id, hops)
        self.subtrees = DataLoader[tuple[str, int, int], list[TreeNode]](
            _per_arguments(repo.assets.subtrees_of)
        )
        self.subtrees_with_sensors = DataLoader[tuple[str, int, int], list[TreeNode]](
            _per_arguments(repo.assets.subtrees_with_sensors_of)
        )
        self.impact = DataLoader[tuple[str, int, int], list[Reached]](
            _per_arguments(repo.topology.impact_of)
        )
        self.root_causes = DataLoader[tuple[str, int, int], list[Reached]](
            _per_arguments(repo.topology.root_causes_of)
        )
        self.neighbourhoods = DataLoader[tuple[str, int], Neighbourhood](
            _per_arguments(repo.topology.neighbourhoods_of)
        )
        self.extra: dict[str, DataLoader[Any, Any]] = {}


@dataclass
class Context:
    """One request's (or one WebSocket connection's) caller and services.

    ``authorise`` is called by the permission on each field (``api.permissions``); the
    resolver then reads the caller from ``caller``."""

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
    def repo(self) -> GraphRepository:
        return self.services.repo

    def authorise(self, role: str | None) -> Principal:
        """The caller if it may act in ``role`` (None: read, anonymously where allowed);
        ``Unauthenticated``/``Forbidden`` otherwise."""
        if self.auth_error is not None:
            raise self.auth_error
        if self.principal is not None and not self.services.tokens.still_valid(self.principal):
            # a WebSocket authenticated once: its key may have been revoked since
            self.auth_error = Unauthenticated(f"API key {self.principal.key_id} was revoked")
            raise self.auth_error
        if role is None:
            if self.principal is None and self.services.settings.allow_anonymous_read:
                return ANONYMOUS
            role = "viewer"
        return require(self.principal, role)

    @property
    def caller(self) -> Principal:
        """Who is asking (anonymous readers as ``ANONYMOUS``); checked by the field's
        permission before its resolver runs."""
        return self.principal if self.principal is not None else ANONYMOUS

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
