"""Following a long job (anomaly training, energy optimisation) through the API:
``finished`` polls ``job(id)`` until the job has ended and answers it, with the result
fields a test asks for; ``progress`` follows ``jobProgress`` over a WebSocket until the
job ends and answers every update seen."""

from __future__ import annotations

from typing import Any

from tests.support.app import Api
from tests.support.polling import eventually
from tests.support.tokens import ADMIN
from tests.support.wsclient import connect

__all__ = ["JOB_FIELDS", "PROGRESS", "finished", "progress"]

JOB_FIELDS = "id kind assetId status progress phase message errorCode createdBy"
PROGRESS = """subscription($id: ID!) {
  jobProgress(jobId: $id) { jobId kind status progress phase message errorCode }
}"""
TERMINAL = {"succeeded", "failed", "cancelled"}


async def finished(
    api: Api, job_id: str, result: str = "", token: str = ADMIN, within: float = 180.0
) -> dict[str, Any]:
    """The job once it has ended: its fields and ``result`` (e.g. ``anomalyModel { id }``)."""
    query = "query($id: ID!) { job(id: $id) { %s %s } }" % (JOB_FIELDS, result)

    async def job() -> dict[str, Any]:
        return (await api.ok(query, {"id": job_id}, token=token))["job"]

    return await eventually(
        job, done=lambda j: j["status"] in TERMINAL, within=within, every=0.1,
        what=f"job {job_id} ended",
    )  # fmt: skip


async def progress(
    api: Api, job_id: str, token: str = ADMIN, within: float = 180.0
) -> list[dict[str, Any]]:
    """Every ``jobProgress`` update from the current state until the job ends."""
    seen: list[dict[str, Any]] = []
    async with connect(api.base, token) as ws:
        await ws.subscribe(PROGRESS, {"id": job_id})
        while not seen or seen[-1]["status"] not in TERMINAL:
            seen.append((await ws.next(within=within))["jobProgress"])
    return seen
