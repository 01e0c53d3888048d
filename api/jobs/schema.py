"""Long jobs in GraphQL: ``job(id)``, ``jobs(assetId)``, ``cancelJob`` and ``jobProgress``.

The mutations that start jobs live with their capability (``trainAnomalyModel`` in
``api.health.schema``, ``optimizeEnergy`` in ``api.operations.energy``) and answer a
``Job`` at once. A job belongs to its asset: a token limited to asset subtrees sees and
cancels only the jobs of assets within them; an outside job answers as an unknown one.
Cancelling needs the role that starting the job's kind needs (engineer for a training,
operator for an optimisation).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from api.common.scoping import see_or_not_found
from api.common.types import check_first
from api.jobs.types import Info, JobKind, JobNode, JobProgressNode
from api.permissions import needs, reads
from api.services.jobs import ROLE_OF
from graph.bolt.jobs import JobRecord

__all__ = ["JobsMutation", "JobsQuery", "JobsSubscription"]


async def _visible_job(info: Info, job_id: str) -> JobRecord:
    """The job, or NOT_FOUND (as for an unknown id) when its asset is outside the scopes."""
    found = await info.context.services.jobs.get(job_id)
    await see_or_not_found(info, found.asset_id, f"job {job_id} not found")
    return found


@strawberry.type
class JobsQuery:
    @strawberry.field(extensions=reads(), description="A job: its progress, then its result.")
    async def job(self, info: Info, id: strawberry.ID) -> JobNode:
        return JobNode.from_record(await _visible_job(info, str(id)))

    @strawberry.field(extensions=reads(), description="An asset's jobs, newest first.")
    async def jobs(
        self, info: Info, asset_id: strawberry.ID, kind: JobKind | None = None, first: int = 20
    ) -> list[JobNode]:
        check_first(first)
        await see_or_not_found(info, str(asset_id), f"asset {asset_id} not found")
        await info.context.repo.assets.get(str(asset_id))
        found = await info.context.services.jobs.repo.list_for_asset(
            str(asset_id), kind=kind.value if kind else None, limit=first
        )
        return [JobNode.from_record(r) for r in found]


@strawberry.type
class JobsMutation:
    @strawberry.mutation(
        extensions=needs("operator"),
        description="Ask a queued or running job to stop (it ends cancelled at its next "
        "progress report). Needs the role its kind needs (engineer for an anomaly "
        "training, operator for an energy optimisation) and its asset in the token's scopes.",
    )
    async def cancel_job(self, info: Info, id: strawberry.ID) -> JobNode:
        caller = info.context.caller
        service = info.context.services.jobs
        record = await service.get(str(id))
        await info.context.services.scopes.check(caller, record.asset_id)
        caller.require(ROLE_OF[record.kind])
        return JobNode.from_record(await service.cancel(str(id)))


@strawberry.type
class JobsSubscription:
    @strawberry.subscription(
        extensions=needs("viewer"),
        description="A job's status, progress and phase: the current state, then every "
        "change until it ends.",
    )
    async def job_progress(
        self, info: Info, job_id: strawberry.ID
    ) -> AsyncGenerator[JobProgressNode, None]:
        await _visible_job(info, str(job_id))
        async for u in info.context.services.jobs.watch(str(job_id)):
            yield JobProgressNode.from_update(u)
