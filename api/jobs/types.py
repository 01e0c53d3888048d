"""GraphQL types of long jobs: ``Job`` (a record with its result) and ``JobProgress``.

A job's result is read through a typed field per kind: ``anomalyModel`` (the model a
training made) and ``energyPlan`` (the optimised schedule with its savings and comfort
cost); both are null until the job has succeeded. Its asset's types are imported
lazily: the health and energy schemas import this module.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from api.common.types import JSON
from api.context import Context
from api.services.jobs import ENERGY, TRAINING, JobUpdate
from graph.bolt.jobs import JobRecord

if TYPE_CHECKING:
    from api.assets.types import AssetNode
    from api.health.schema import AnomalyModelNode
    from api.operations.energy import EnergyPlanNode

__all__ = ["JobKind", "JobNode", "JobProgressNode"]

Info = strawberry.Info[Context, None]
_Asset = Annotated["AssetNode", strawberry.lazy("api.assets.types")]
_Model = Annotated["AnomalyModelNode", strawberry.lazy("api.health.schema")]
_Plan = Annotated["EnergyPlanNode", strawberry.lazy("api.operations.energy")]


@strawberry.enum(description="What a job computes.")
class JobKind(Enum):
    ANOMALY_TRAINING = TRAINING
    ENERGY_OPTIMISATION = ENERGY


@strawberry.type(
    name="Job",
    description="A long computation (anomaly training, energy optimisation) running on the "
    "job runner: started by a mutation that answers at once, followed with jobProgress, "
    "its result read here once it has succeeded.",
)
class JobNode:
    id: strawberry.ID
    kind: JobKind
    asset_id: strawberry.ID
    status: str = strawberry.field(description="queued, running, succeeded, failed, cancelled")
    progress: float = strawberry.field(description="Fraction done, 0 to 1.")
    phase: str = strawberry.field(
        description="queued; reading, training, saving (training); optimising, storing "
        "(energy); done."
    )
    message: str = strawberry.field(description="Why it failed or was cancelled.")
    error_code: str | None = strawberry.field(
        description="The failure's code (VALIDATION, NOT_FOUND, UNAVAILABLE, INTERNAL, "
        "CANCELLED), as errors carry in extensions.code."
    )
    params: JSON = strawberry.field(description="The request, as recorded.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_by: str
    record: strawberry.Private[JobRecord]

    @classmethod
    def from_record(cls, r: JobRecord) -> JobNode:
        return cls(
            id=strawberry.ID(r.id), kind=JobKind(r.kind), asset_id=strawberry.ID(r.asset_id),
            status=r.status, progress=r.progress, phase=r.phase, message=r.message,
            error_code=r.error_code, params=JSON(r.params), created_at=r.created_at,
            started_at=r.started_at, finished_at=r.finished_at, created_by=r.created_by,
            record=r,
        )  # fmt: skip

    @strawberry.field
    async def asset(self, info: Info) -> _Asset:
        from api.assets.types import AssetNode

        return AssetNode.from_domain(await info.context.loaders.asset.load(self.record.asset_id))

    @strawberry.field(description="The trained model (anomaly training, once succeeded).")
    async def anomaly_model(self, info: Info) -> _Model | None:
        from api.health.schema import AnomalyModelNode

        model_id = self.record.result.get("modelId")
        if self.record.status != "succeeded" or not isinstance(model_id, str):
            return None
        return AnomalyModelNode.from_domain(await info.context.repo.anomaly_models.get(model_id))

    @strawberry.field(
        description="The optimised schedule with its savings and comfort cost (energy "
        "optimisation, once succeeded)."
    )
    def energy_plan(self) -> _Plan | None:
        from api.operations.energy import EnergyPlanNode

        if self.record.status != "succeeded" or self.record.kind != ENERGY:
            return None
        return EnergyPlanNode.from_dict(self.record.result)


@strawberry.type(name="JobProgress", description="A job's status, progress and phase.")
class JobProgressNode:
    job_id: strawberry.ID
    kind: JobKind
    status: str
    progress: float
    phase: str
    message: str
    error_code: str | None

    @classmethod
    def from_update(cls, u: JobUpdate) -> JobProgressNode:
        return cls(
            job_id=strawberry.ID(u.job_id), kind=JobKind(u.kind), status=u.status,
            progress=u.progress, phase=u.phase, message=u.message, error_code=u.error_code,
        )  # fmt: skip
