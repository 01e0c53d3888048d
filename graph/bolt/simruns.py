"""Simulation runs in the graph: the record of every what-if job.

``(:SimulationRun {id, kind, model, status, progress, message, scenario, summary,
startAt, createdAt, startedAt, finishedAt, createdBy})-[:SIMULATES]->(:Asset)``;
``scenario`` and ``summary`` are JSON text (Neo4j stores no maps).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graph.bolt import rows as _rows
from graph.bolt.client import GraphClient
from graph.bolt.cypher import simruns as q
from graph.errors import NotFound, ValidationError
from graph.model import check_id
from graph.timeutil import iso, parse_iso, utcnow

__all__ = ["RUN_STATUSES", "TERMINAL", "SimRunRepository", "SimulationRunRecord"]

RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class SimulationRunRecord:
    id: str
    asset_id: str
    model: str
    status: str
    start_at: datetime
    created_at: datetime
    kind: str = "scenario"
    progress: float = 0.0
    message: str = ""
    scenario: dict[str, Any] = field(default_factory=dict, hash=False)
    summary: dict[str, Any] = field(default_factory=dict, hash=False)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    created_by: str = ""

    def __post_init__(self) -> None:
        check_id(self.id, "simulation run")
        if self.status not in RUN_STATUSES:
            raise ValidationError(f"run status must be one of {RUN_STATUSES}: {self.status!r}")
        if not (math.isfinite(self.progress) and 0.0 <= self.progress <= 1.0):
            raise ValidationError(f"run progress must be in 0..1, got {self.progress}")


def _record(row: dict[str, Any]) -> SimulationRunRecord:
    return SimulationRunRecord(
        id=row["id"],
        asset_id=row["assetId"],
        model=row["model"],
        status=row["status"],
        start_at=parse_iso(row["startAt"]),  # type: ignore[arg-type]
        created_at=parse_iso(row["createdAt"]),  # type: ignore[arg-type]
        kind=row["kind"] or "scenario",
        progress=float(row["progress"] or 0.0),
        message=row["message"] or "",
        scenario=_rows.load_map(row["scenario"]),
        summary=_rows.load_map(row["summary"]),
        started_at=parse_iso(row["startedAt"]),
        finished_at=parse_iso(row["finishedAt"]),
        created_by=row["createdBy"] or "",
    )


class SimRunRepository:
    def __init__(self, client: GraphClient) -> None:
        self._client = client

    async def create(self, run: SimulationRunRecord) -> None:
        rows = await self._client.write(
            q.CREATE_RUN,
            id=run.id,
            assetId=run.asset_id,
            kind=run.kind,
            model=run.model,
            status=run.status,
            scenario=_rows.dump_map(run.scenario),
            startAt=iso(run.start_at),
            createdAt=iso(run.created_at),
            createdBy=run.created_by,
        )
        if not rows:
            raise NotFound(f"asset {run.asset_id} not found")

    async def update(
        self,
        run_id: str,
        *,
        status: str,
        progress: float,
        message: str = "",
        summary: dict[str, Any] | None = None,
        started_at: datetime | None = None,
        finished_at: datetime | None = None,
    ) -> None:
        if status not in RUN_STATUSES:
            raise ValidationError(f"run status must be one of {RUN_STATUSES}: {status!r}")
        rows = await self._client.write(
            q.UPDATE_RUN,
            id=run_id,
            status=status,
            progress=min(1.0, max(0.0, float(progress))),
            message=message,
            summary=_rows.dump_map(summary),
            startedAt=iso(started_at),
            finishedAt=iso(finished_at),
        )
        if not rows:
            raise NotFound(f"simulation run {run_id} not found")

    async def get_many(self, ids: Iterable[str]) -> dict[str, SimulationRunRecord]:
        rows = await self._client.read(q.GET_RUNS, ids=list(dict.fromkeys(ids)))
        return {r["id"]: _record(r) for r in rows}

    async def get(self, run_id: str) -> SimulationRunRecord:
        found = await self.get_many([run_id])
        if run_id not in found:
            raise NotFound(f"simulation run {run_id} not found")
        return found[run_id]

    async def list_for_asset(
        self, asset_id: str, *, limit: int = 20, after: tuple[datetime, str] | None = None
    ) -> list[SimulationRunRecord]:
        """Newest first; ``after`` is the ``(created_at, id)`` of the previous page's last."""
        if not 1 <= limit <= 1000:
            raise ValidationError("limit must be in 1..1000")
        rows = await self._client.read(
            q.LIST_RUNS,
            assetId=asset_id,
            afterAt=iso(after[0]) if after else None,
            afterId=after[1] if after else "",
            limit=limit,
        )
        return [_record(r) for r in rows]

    async def fail_interrupted(self, message: str) -> int:
        """Mark runs left queued/running by a previous process as failed (at start-up)."""
        rows = await self._client.write(
            q.FAIL_INTERRUPTED, message=message, now=iso(utcnow())
        )
        return int(rows[0]["n"]) if rows else 0
