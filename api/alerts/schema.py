"""Alerts in GraphQL: the ``alerts`` query, ``Asset.alerts``/``Sensor.alerts``,
``acknowledgeAlert`` and the ``alerts`` subscription.

Alerts are raised and cleared by the alert service (``api/services/alerting.py``) from the
readings; people acknowledge them (role ``operator``; a token limited to asset subtrees
only within them). The acknowledgement is audited on the alert: who, when, and a note.
``Asset.alerts`` and ``Sensor.alerts`` resolve through per-request DataLoaders (one
graph query per distinct argument set, whatever the number of assets).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Collection
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.dataloader import DataLoader

from api.common.scoping import see_or_not_found, seen, visible
from api.common.types import Connection, Edge, PageInfo, check_first, decode_cursor, encode_cursor
from api.context import Context
from api.permissions import needs, reads
from api.services.alerting import AlertChange, ChangeKind
from graph.bolt.alerts import Alert, AlertRepository
from graph.bolt.assets import MAX_DEPTH
from graph.errors import NotFound, ValidationError
from graph.timeutil import iso, utcnow
from ingest.fanout import Missed

if TYPE_CHECKING:
    from api.assets.types import AssetNode, SensorNode

__all__ = [
    "AlertMessageNode",
    "AlertNode",
    "AlertsMutation",
    "AlertsQuery",
    "AlertsSubscription",
    "asset_alerts",
    "sensor_alerts",
]

log = logging.getLogger("twinql.api.alerts")
Info = strawberry.Info[Context, None]
_LazySensor = Annotated["SensorNode", strawberry.lazy("api.assets.types")]
_LazyAsset = Annotated["AssetNode", strawberry.lazy("api.assets.types")]
MAX_QUEUE = 10_000


@strawberry.enum(name="AlertSeverity")
class AlertSeverityEnum(Enum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@strawberry.enum(name="AlertState", description="ACKNOWLEDGED alerts are still active.")
class AlertStateEnum(Enum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


@strawberry.enum(name="AlertChangeKind")
class AlertChangeKindEnum(Enum):
    RAISED = "raised"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"


@strawberry.type(name="Alert", description="Raised by a rule on a sensor and its asset.")
class AlertNode:
    id: strawberry.ID
    rule: str = strawberry.field(description="limit (out of range) or warning (warning band).")
    severity: AlertSeverityEnum
    state: AlertStateEnum
    active: bool = strawberry.field(description="Not cleared yet (ACTIVE or ACKNOWLEDGED).")
    message: str
    value: float | None = strawberry.field(description="The reading that raised it.")
    threshold: float | None = strawberry.field(description="The threshold it crossed.")
    sensor_id: strawberry.ID
    asset_id: strawberry.ID
    raised_at: datetime
    cleared_at: datetime | None
    cleared_value: float | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    acknowledge_note: str

    @classmethod
    def from_domain(cls, a: Alert) -> AlertNode:
        return cls(
            id=strawberry.ID(a.id),
            rule=a.rule,
            severity=AlertSeverityEnum(a.severity),
            state=AlertStateEnum(a.state.value),
            active=a.active,
            message=a.message,
            value=a.value,
            threshold=a.threshold,
            sensor_id=strawberry.ID(a.sensor_id),
            asset_id=strawberry.ID(a.asset_id),
            raised_at=a.raised_at,
            cleared_at=a.cleared_at,
            cleared_value=a.cleared_value,
            acknowledged_at=a.acknowledged_at,
            acknowledged_by=a.acknowledged_by,
            acknowledge_note=a.acknowledge_note,
        )

    @strawberry.field
    async def sensor(self, info: Info) -> _LazySensor | None:
        from api.assets.types import SensorNode

        try:
            return SensorNode.from_domain(await info.context.loaders.sensor.load(self.sensor_id))
        except NotFound:  # deleted since
            return None

    @strawberry.field
    async def asset(self, info: Info) -> _LazyAsset | None:
        from api.assets.types import AssetNode

        try:
            return AssetNode.from_domain(await info.context.loaders.asset.load(self.asset_id))
        except NotFound:
            return None


@strawberry.type(name="AlertMessage", description="An alert that was raised, cleared or acked.")
class AlertMessageNode:
    kind: AlertChangeKindEnum
    alert: AlertNode
    missed: int = strawberry.field(description="Messages dropped before this one (fell behind).")


def _repo(info: Info) -> AlertRepository:
    return info.context.repo.alerts


def _cursor(a: Alert) -> str:
    return encode_cursor(f"{a.raised_at.isoformat()} {a.id}")


def _after(cursor: str | None) -> tuple[str, str] | None:
    key = decode_cursor(cursor)
    if not key:
        return None
    at, _, alert_id = key.partition(" ")
    try:
        stamp = datetime.fromisoformat(at)
    except ValueError:
        raise ValidationError(f"invalid cursor {cursor!r}") from None
    return iso(stamp) or "", alert_id


def _loader(info: Info, what: str, active: bool | None, first: int) -> DataLoader:
    check_first(first)
    repo = _repo(info)
    fetch = repo.of_assets if what == "asset" else repo.of_sensors

    def make() -> DataLoader:
        async def load(ids: list[str]) -> list[list[Alert]]:
            found = await fetch(ids, active, first)
            return [found.get(i, []) for i in ids]

        return DataLoader(load)

    return info.context.loader(f"alerts:{what}:{active}:{first}", make)


async def asset_alerts(
    root: AssetNode, info: Info, active: bool | None = None, first: int = 20
) -> list[AlertNode]:
    """Asset.alerts: alerts raised on the asset's sensors, newest first."""
    found = await _loader(info, "asset", active, first).load(root.domain.id)
    return [AlertNode.from_domain(a) for a in found]


async def sensor_alerts(
    root: SensorNode, info: Info, active: bool | None = None, first: int = 20
) -> list[AlertNode]:
    """Sensor.alerts: the sensor's alerts, newest first."""
    found = await _loader(info, "sensor", active, first).load(root.domain.id)
    return [AlertNode.from_domain(a) for a in found]


async def _asset_scope(info: Info, asset_id: str, include_descendants: bool) -> list[str]:
    repo = info.context.repo
    await repo.assets.get(asset_id)  # NotFound for an unknown asset
    await see_or_not_found(info, asset_id, f"asset {asset_id} not found")
    if not include_descendants:
        return [asset_id]
    nodes = await repo.assets.subtree(asset_id, MAX_DEPTH)
    return [asset_id, *(n.asset.id for n in nodes)]


@strawberry.type
class AlertsQuery:
    @strawberry.field(
        extensions=reads(),
        description="Alerts newest first: of an asset (and by default its descendants) or "
        "of the whole plant; active true/false for active or cleared ones only.",
    )
    async def alerts(
        self,
        info: Info,
        asset_id: strawberry.ID | None = None,
        include_descendants: bool = True,
        active: bool | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> Connection[AlertNode]:
        check_first(first)
        assets: Collection[str] | None = await visible(info)
        if asset_id is not None:
            assets = await _asset_scope(info, str(asset_id), include_descendants)
        found = await _repo(info).page(assets, active=active, after=_after(after), limit=first + 1)
        page = found[:first]
        edges = [Edge(cursor=_cursor(a), node=AlertNode.from_domain(a)) for a in page]
        return Connection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(found) > first,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(description="One alert by id; null when unknown.", extensions=reads())
    async def alert(self, info: Info, id: strawberry.ID) -> AlertNode | None:
        try:
            found = await _repo(info).get(str(id))
        except NotFound:
            return None
        return AlertNode.from_domain(found) if await seen(info, found.asset_id) else None


@strawberry.type
class AlertsMutation:
    @strawberry.mutation(
        extensions=needs("operator"),
        description="Acknowledge an alert (role operator): records who, when and a note. "
        "An active alert becomes ACKNOWLEDGED; acknowledging twice is a CONFLICT.",
    )
    async def acknowledge_alert(self, info: Info, id: strawberry.ID, note: str = "") -> AlertNode:
        principal = info.context.caller
        services = info.context.services
        repo = _repo(info)
        found = await repo.get(str(id))
        await services.scopes.check(principal, found.asset_id)
        done = await repo.acknowledge(found.id, principal.name, utcnow(), note)
        log.info("alert %s acknowledged by %s: %s", done.id, principal.name, note)
        services.alerts.acknowledged(done)
        return AlertNode.from_domain(done)


@strawberry.type
class AlertsSubscription:
    @strawberry.subscription(
        extensions=needs("viewer"),
        description="Alerts raised, cleared and acknowledged: of an asset (and by default "
        "its descendants), or of the whole plant.",
    )
    async def alerts(
        self,
        info: Info,
        asset_id: strawberry.ID | None = None,
        include_descendants: bool = True,
        buffer: int | None = None,
    ) -> AsyncGenerator[AlertMessageNode, None]:
        if buffer is not None and not 1 <= buffer <= MAX_QUEUE:
            raise ValidationError(f"buffer must be between 1 and {MAX_QUEUE}")
        scope: set[str] | None = None
        if asset_id is not None:
            scope = set(await _asset_scope(info, str(asset_id), include_descendants))
        from api.live.schema import visible_scope  # the live package imports this one

        hub = info.context.services.alerts.changes
        missed = 0
        async with visible_scope(info) as seen_now:

            def accept(c: AlertChange) -> bool:
                asset = c.alert.asset_id
                return (scope is None or asset in scope) and (seen_now is None or asset in seen_now)

            with hub.subscribe(
                None if scope is None and seen_now is None else accept, buffer
            ) as sub:
                async for item in sub:
                    if isinstance(item, Missed):
                        missed += item.updates
                        continue
                    yield AlertMessageNode(
                        kind=AlertChangeKindEnum(ChangeKind(item.kind).value),
                        alert=AlertNode.from_domain(item.alert),
                        missed=missed,
                    )
                    missed = 0
