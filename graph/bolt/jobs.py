"""Long jobs in the graph: the record of every anomaly training and energy optimisation.

``(:Job {id, kind, status, progress, phase, message, errorCode, params, result,
createdAt, startedAt, finishedAt, createdBy})-[:FOR]->(:Asset)``; ``params`` and
``result`` are JSON text (Neo4j stores no maps). Simulation runs keep their own record
(``graph.bolt.simruns``); both follow the same statuses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graph.bolt import rows as _rows
from graph.bolt.client import GraphClient
from graph.bolt.cypher import jobs as q
from graph.errors import NotFound, ValidationError
from graph.model import check_id
from graph.timeutil import iso, parse_iso, utcnow

__all__ = ["JOB_KINDS", "JOB_STATUSES", "TERMINAL", "JobRecord", "JobRepository"]

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
JOB_KINDS = ("anomaly_training", "energy_optimisation")


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    asset_id: str
    kind: str
    status: str
    created_at: datetime
    progress: float = 0.0
    phase: str = "queued"
    message: str = ""
    error_code: str | None = None
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    result: dict[str, Any] = field(default_factory=dict, hash=False)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    created_by: str = ""

    def __post_init__(self) -> None:
        check_id(self.id, "job")
        if self.kind not in JOB_KINDS:
            raise ValidationError(f"job kind must be one of {JOB_KINDS}: {self.kind!r}")
        if self.status not in JOB_STATUSES:
            raise ValidationError(f"job status must be one of {JOB_STATUSES}: {self.status!r}")
        if not (math.isfinite(self.progress) and 0.0 <= self.progress <= 1.0):
            raise ValidationError(f"job progress must be in 0..1, got {self.progress}")


def _record(row: dict[str, Any]) -> JobRecord:
    return JobRecord(
        id=row["id"],
        asset_id=row["assetId"],
        kind=row["kind"],
        status=row["status"],
        created_at=parse_iso(row["createdAt"]),  # type: ignore[arg-type]
        progress=float(row["progress"] or 0.0),
        phase=row["phase"] or "",
        message=row["message"] or "",
        error_code=row["errorCode"] or None,
        params=_rows.load_map(row["params"]),
        result=_rows.load_map(row["result"]),
        started_at=parse_iso(row["startedAt"]),
        finished_at=parse_iso(row["finishedAt"]),
        created_by=row["createdBy"] or "",
    )


class JobRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def create(self, job: JobRecord) -> None:
        rows = await self._client.write(
            q.CREATE_JOB,
            id=job.id,
            assetId=job.asset_id,
            kind=job.kind,
            params=_rows.dump_map(job.params),
            createdAt=iso(job.created_at),
            createdBy=job.created_by,
        )
        if not rows:
            raise NotFound(f"asset {job.asset_id} not found")

    async def update(
        self,
        job_id: str,
        *,
        status: str,
        progress: float,
        phase: str,
        message: str = "",
        error_code: str | None = None,
        result: dict[str, Any] | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        if status not in JOB_STATUSES:
            raise ValidationError(f"job status must be one of {JOB_STATUSES}: {status!r}")
        rows = await self._client.write(
            q.UPDATE_JOB,
            id=job_id,
            status=status,
            progress=min(1.0, max(0.0, float(progress))),
            phase=phase,
            message=message,
            errorCode=error_code,
            result=_rows.dump_map(result),
            startedAt=iso(started_at),
            finishedAt=iso(finished_at),
        )
        if not rows:
            raise NotFound(f"job {job_id} not found")

    async def get_many(self, ids: Iterable[str]) -> dict[str, JobRecord]:
        rows = await self._client.read(q.GET_JOBS, ids=list(dict.fromkeys(ids)))
        return {r["id"]: _record(r) for r in rows}

    async def get(self, job_id: str) -> JobRecord:
        found = await self.get_many([job_id])
        if job_id not in found:
            raise NotFound(f"job {job_id} not found")
        return found[job_id]

    async def list_for_asset(
        self,
        asset_id: str,
        *,
        kind: str | None = None,
        limit: int = 20,
        after: tuple[datetime, str] | None = None,
    ) -> list[JobRecord]:
        """Newest first; ``after`` is the ``(created_at, id)`` of the previous page's last."""
        if not 1 <= limit <= 1000:
            raise ValidationError("limit must be in 1..1000")
        rows = await self._client.read(
            q.LIST_JOBS,
            assetId=asset_id,
            kind=kind,
            afterAt=iso(after[0]) if after else None,
            afterId=after[1] if after else "",
            limit=limit,
        )
        return [_record(r) for r in rows]

    async def fail_interrupted(self, message: str) -> int:
        """Mark jobs left queued/running by a previous process as failed (at start-up)."""
        rows = await self._client.write(q.FAIL_INTERRUPTED, message=message, now=iso(utcnow()))
        return int(rows[0]["n"]) if rows else 0
