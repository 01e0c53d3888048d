"""Health in GraphQL: ``Asset.health(asOf)``, ``healthHistory``, ``anomalyModels``,
``assessHealth``, ``trainAnomalyModel`` (a job: ``api.jobs``) and the ``healthChanges``
subscription.

``Asset.health`` computes the assessment from the data up to ``asOf`` (now by default)
and stores nothing: a backtest of the twin on its own history. ``assessHealth`` computes
it now, stores it and opens a work order where the rule says (role ``operator``);
twinql also assesses on a timer (``TWINQL_HEALTH_INTERVAL``). ``trainAnomalyModel`` fits
an asset's anomaly detector on a healthy window (role ``engineer``). Tokens limited to
asset subtrees act only within them. What each figure means: ``api.services.health``,
``analytics.assessment`` and docs/analytics.md.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from analytics.rul_types import RulEstimate
from api.assets.pages import connection, decode_event_cursor
from api.common.scoping import keep, see_or_not_found, visible
from api.common.types import JSON, Connection, check_first, encode_cursor
from api.context import Context
from api.jobs.types import JobNode
from api.permissions import needs, reads
from api.services.health import AnomalyFigures, AssetHealth
from graph.bolt.assets import MAX_DEPTH
from graph.bolt.health import assessment_key
from graph.errors import ValidationError
from graph.health import AnomalyModel, HealthAssessment
from ingest.fanout import Missed

if TYPE_CHECKING:
    from api.assets.types import AssetNode, WorkOrderNode

__all__ = ["HealthMutation", "HealthQuery", "HealthSubscription", "asset_health"]

log = logging.getLogger("twinql.api.health")
Info = strawberry.Info[Context, None]
_LazyWorkOrder = Annotated["WorkOrderNode", strawberry.lazy("api.assets.types")]
MAX_QUEUE = 10_000


@strawberry.enum(description="What the work-order rule made of an assessment.")
class HealthPriority(Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@strawberry.type(description="A sensor's share of something (an anomaly's deviation).")
class SensorShare:
    sensor_id: strawberry.ID
    share: float


@strawberry.type(description="Remaining useful life in hours from asOf, with its interval.")
class Rul:
    hours: float | None = strawberry.field(description="Null when unknown (see unknownReason).")
    low: float | None
    high: float | None
    confidence: float | None = strawberry.field(
        description="Probability that [low, high] holds the true RUL (calibrated on the "
        "recorded lives of the fleet where method says so)."
    )
    method: str = strawberry.field(
        description="trend, fleet, trend+fleet; 'uncalibrated' without two recorded lives."
    )
    unknown_reason: str | None = strawberry.field(
        description="no_failure_limit, too_little_history, not_degrading, no_trend or "
        "no_fleet_history."
    )

    @classmethod
    def from_estimate(cls, r: RulEstimate) -> Rul:
        return cls(hours=r.hours, low=r.low, high=r.high,
                   confidence=r.confidence if r.known else None, method=r.method,
                   unknown_reason=None if r.known else r.reason)  # fmt: skip


@strawberry.type(description="A sensor's part in the health index.")
class SensorHealth:
    sensor_id: strawberry.ID
    index: float | None = strawberry.field(
        description="1 at its normal level, 0 at a failure limit."
    )
    level: float | None = strawberry.field(
        description="Its recent window level (median of the last windows)."
    )
    normal: float = strawberry.field(description="Its level in the healthy start of the life.")
    unknown_reason: str | None


@strawberry.type(description="The anomaly score of the last windows against the asset's model.")
class Anomaly:
    score: float | None = strawberry.field(
        description="Share of the healthy training windows less anomalous than the recent "
        "ones, in [0, 1]; null without a model or data (unknownReason)."
    )
    anomalous: bool
    threshold: float
    contributions: list[SensorShare] = strawberry.field(
        description="Each sensor's share of the deviation from its healthy behaviour."
    )
    model_id: strawberry.ID | None
    model_version: int | None
    window_from: datetime | None
    window_to: datetime | None
    unknown_reason: str | None = strawberry.field(description="no_model or no_complete_window.")

    @classmethod
    def from_figures(cls, a: AnomalyFigures) -> Anomaly:
        return cls(
            score=a.score, anomalous=a.anomalous, threshold=a.threshold,
            contributions=[SensorShare(sensor_id=strawberry.ID(s), share=v)
                           for s, v in a.contributions],
            model_id=strawberry.ID(a.model.id) if a.model else None,
            model_version=a.model.version if a.model else None,
            window_from=a.window_from, window_to=a.window_to, unknown_reason=a.reason,
        )  # fmt: skip


@strawberry.type(description="An asset's health as computed from its data up to asOf.")
class Health:
    asset_id: strawberry.ID
    assessment_id: strawberry.ID | None = strawberry.field(
        description="The stored assessment (assessHealth, timer); null for Asset.health."
    )
    as_of: datetime
    computed_at: datetime
    health_index: float | None = strawberry.field(
        description="1 as new, 0 at a failure limit: the worst sensor's index."
    )
    limiting_sensor: strawberry.ID | None
    sensors: list[SensorHealth]
    unknown_reason: str | None = strawberry.field(description="Why there is no health index.")
    rul: Rul
    anomaly: Anomaly
    priority: HealthPriority
    recommendation: str = strawberry.field(description="The work-order rule's reading of it.")
    method: str
    window_from: datetime | None
    window_to: datetime | None
    fleet_lives: int = strawberry.field(
        description="Recorded lives of assets of this type the RUL learned from."
    )
    work_order: _LazyWorkOrder | None = strawberry.field(
        description="The asset's active work order (opened by this assessment or before)."
    )

    @classmethod
    def from_domain(cls, h: AssetHealth) -> Health:
        from api.assets.types import WorkOrderNode

        a, life = h.assessment, h.life
        index = life.index
        return cls(
            asset_id=strawberry.ID(a.asset_id),
            assessment_id=strawberry.ID(a.id) if h.stored else None,
            as_of=a.as_of, computed_at=a.at, health_index=a.health_index,
            limiting_sensor=strawberry.ID(index.limiting_sensor)
            if index and index.limiting_sensor else None,
            sensors=[SensorHealth(sensor_id=strawberry.ID(s.sensor_id), index=s.index,
                                  level=s.level, normal=s.normal, unknown_reason=s.reason)
                     for s in (index.sensors if index else ())],
            unknown_reason=life.reason if a.health_index is None else None,
            rul=Rul.from_estimate(h.rul), anomaly=Anomaly.from_figures(h.anomaly),
            priority=HealthPriority(h.decision.priority.value),
            recommendation=h.decision.reason, method=a.method,
            window_from=a.window_from, window_to=a.window_to, fleet_lives=h.fleet_lives,
            work_order=WorkOrderNode.from_domain(h.work_order.order) if h.work_order else None,
        )  # fmt: skip


@strawberry.type(description="A stored health assessment.")
class HealthAssessmentNode:
    id: strawberry.ID
    asset_id: strawberry.ID
    at: datetime = strawberry.field(description="When it was computed.")
    as_of: datetime = strawberry.field(description="The data it used ends here.")
    method: str
    health_index: float | None
    anomaly_score: float | None
    rul: Rul
    window_from: datetime | None
    window_to: datetime | None
    contributions: list[SensorShare]

    @classmethod
    def from_domain(cls, h: HealthAssessment) -> HealthAssessmentNode:
        method = h.method.split("rul ", 1)[-1].split(";", 1)[0] if "rul " in h.method else ""
        rul = Rul(hours=h.rul_hours, low=h.rul_low, high=h.rul_high, confidence=h.confidence,
                  method=method, unknown_reason=h.unknown_reason if h.rul_hours is None else None)  # fmt: skip
        return cls(
            id=strawberry.ID(h.id), asset_id=strawberry.ID(h.asset_id), at=h.at,
            as_of=h.as_of, method=h.method, health_index=h.health_index,
            anomaly_score=h.anomaly_score, rul=rul, window_from=h.window_from,
            window_to=h.window_to,
            contributions=[SensorShare(sensor_id=strawberry.ID(k), share=v)
                           for k, v in sorted(h.contributions.items(), key=lambda p: -p[1])],
        )  # fmt: skip


@strawberry.type(description="A trained anomaly detector of an asset.")
class AnomalyModelNode:
    id: strawberry.ID
    asset_id: strawberry.ID
    version: int
    trained_from: datetime
    trained_to: datetime
    created_at: datetime
    metrics: JSON

    @classmethod
    def from_domain(cls, m: AnomalyModel) -> AnomalyModelNode:
        return cls(
            id=strawberry.ID(m.id), asset_id=strawberry.ID(m.asset_id), version=m.version,
            trained_from=m.trained_from, trained_to=m.trained_to, created_at=m.created_at,
            metrics=JSON(m.metrics),
        )  # fmt: skip


async def asset_health(root: AssetNode, info: Info, as_of: datetime | None = None) -> Health:
    """Asset.health: computed from the data up to asOf, not stored."""
    return Health.from_domain(await info.context.services.health.compute(root.domain.id, as_of))


def _asset_of(m: AnomalyModel) -> tuple[str]:
    return (m.asset_id,)


def _cursor(h: HealthAssessment) -> str:
    at, hid = assessment_key(h)
    return encode_cursor(f"{at}|{hid}")


@strawberry.type
class HealthQuery:
    @strawberry.field(
        extensions=reads(),
        description="An asset's stored assessments newest first (by asOf), asOf in [since, until).",
    )
    async def health_history(
        self,
        info: Info,
        asset_id: strawberry.ID,
        first: int = 50,
        after: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Connection[HealthAssessmentNode]:
        check_first(first)
        repo = info.context.repo
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        await repo.assets.get(str(asset_id))
        page = await repo.health.history(
            str(asset_id), limit=first, after=decode_event_cursor(after), since=since, until=until
        )
        return connection(page.items, page.has_next, _cursor, HealthAssessmentNode.from_domain)

    @strawberry.field(
        extensions=reads(), description="Trained anomaly models newest first, of one asset or all."
    )
    async def anomaly_models(
        self, info: Info, asset_id: strawberry.ID | None = None, first: int = 100
    ) -> list[AnomalyModelNode]:
        check_first(first)
        repo = info.context.repo
        if asset_id is not None:
            await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
            await repo.assets.get(str(asset_id))
        found = await repo.anomaly_models.list(
            str(asset_id) if asset_id is not None else None, limit=first
        )
        return [AnomalyModelNode.from_domain(m) for m in await keep(info, found, _asset_of)]


@strawberry.type
class HealthMutation:
    @strawberry.mutation(
        extensions=needs("operator"),
        description="Assess an asset's health now from its data, store the assessment and "
        "open a work order when the rule asks for one (RUL under 7 days: critical, under "
        "30 days: high, anomalous: medium) and none is active for the asset.",
    )
    async def assess_health(self, info: Info, asset_id: strawberry.ID) -> Health:
        await info.context.services.scopes.check(info.context.caller, str(asset_id))
        done = await info.context.services.health.assess(str(asset_id))
        log.info("health of %s assessed by %s", asset_id, info.context.caller.name)
        return Health.from_domain(done)

    @strawberry.mutation(
        extensions=needs("engineer"),
        description="Train the asset's anomaly detector (StandardScaler + IsolationForest on "
        "window features) on [from, to), a period it was healthy; it becomes the asset's "
        "next model version. A job: answers at once (status queued) once the request is "
        "checked; follow it with jobProgress, read the model as Job.anomalyModel.",
    )
    async def train_anomaly_model(
        self,
        info: Info,
        asset_id: strawberry.ID,
        from_: Annotated[datetime, strawberry.argument(name="from")],
        to: datetime,
        seed: int = 0,
    ) -> JobNode:
        caller = info.context.caller
        await info.context.services.scopes.check(caller, str(asset_id))
        if not 0 <= seed < 2**31:
            raise ValidationError("seed must be between 0 and 2^31 - 1")
        job = await info.context.services.jobs.train_anomaly_model(
            str(asset_id), from_, to, seed, caller.name
        )
        log.info("anomaly training %s of %s started by %s", job.id, asset_id, caller.name)
        return JobNode.from_record(job)


@strawberry.type(description="A stored assessment, or how many a slow subscriber missed.")
class HealthChangeNode:
    assessment: HealthAssessmentNode
    missed: int = strawberry.field(description="Assessments dropped before this one (slow reader).")


@strawberry.type
class HealthSubscription:
    @strawberry.subscription(
        extensions=needs("viewer"),
        description="Assessments as they are stored: of an asset (and by default its "
        "descendants), or of the whole plant.",
    )
    async def health_changes(
        self,
        info: Info,
        asset_id: strawberry.ID | None = None,
        include_descendants: bool = True,
        buffer: int | None = None,
    ) -> AsyncGenerator[HealthChangeNode, None]:
        if buffer is not None and not 1 <= buffer <= MAX_QUEUE:
            raise ValidationError(f"buffer must be between 1 and {MAX_QUEUE}")
        scope: set[str] | None = None
        seen_ids = await visible(info)
        if asset_id is not None:
            repo = info.context.repo
            await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
            await repo.assets.get(str(asset_id))
            scope = {str(asset_id)}
            if include_descendants:
                scope.update(
                    n.asset.id for n in await repo.assets.subtree(str(asset_id), MAX_DEPTH)
                )
        if seen_ids is not None:
            scope = set(seen_ids) if scope is None else scope & seen_ids
        hub = info.context.services.health.changes
        missed = 0
        with hub.subscribe(
            None if scope is None else (lambda h: h.asset_id in scope), buffer
        ) as sub:
            async for item in sub:
                if isinstance(item, Missed):
                    missed += item.updates
                    continue
                yield HealthChangeNode(
                    assessment=HealthAssessmentNode.from_domain(item), missed=missed
                )
                missed = 0
