"""Cypher of long jobs other than simulation runs: ``(:Job)-[:FOR]->(:Asset)``."""

from typing import LiteralString

__all__ = [
    "CREATE_JOB",
    "FAIL_INTERRUPTED",
    "GET_JOBS",
    "LIST_JOBS",
    "UPDATE_JOB",
]

_FIELDS: LiteralString = (
    "j.id AS id, a.id AS assetId, j.kind AS kind, j.status AS status, "
    "j.progress AS progress, j.phase AS phase, j.message AS message, "
    "j.errorCode AS errorCode, j.params AS params, j.result AS result, "
    "j.createdAt AS createdAt, j.startedAt AS startedAt, j.finishedAt AS finishedAt, "
    "j.createdBy AS createdBy"
)

CREATE_JOB: LiteralString = (
    "MATCH (a:Asset {id: $assetId}) "
    "CREATE (j:Job {id: $id, kind: $kind, status: 'queued', progress: 0.0, phase: 'queued', "
    "message: '', params: $params, createdAt: $createdAt, createdBy: $createdBy})-[:FOR]->(a) "
    "RETURN j.id AS id"
)

UPDATE_JOB: LiteralString = (
    "MATCH (j:Job {id: $id}) "
    "SET j.status = $status, j.progress = $progress, j.phase = $phase, "
    "j.message = $message, j.errorCode = $errorCode, "
    "j.result = coalesce($result, j.result), "
    "j.startedAt = coalesce(j.startedAt, $startedAt), "
    "j.finishedAt = coalesce($finishedAt, j.finishedAt) "
    "RETURN j.id AS id"
)

GET_JOBS: LiteralString = (
    "UNWIND $ids AS jid MATCH (j:Job {id: jid})-[:FOR]->(a:Asset) RETURN " + _FIELDS
)

# Newest first; the cursor is (createdAt, id) of the last row of the previous page.
LIST_JOBS: LiteralString = (
    "MATCH (a:Asset {id: $assetId})<-[:FOR]-(j:Job) "
    "WHERE ($kind IS NULL OR j.kind = $kind) "
    "AND ($afterAt IS NULL OR j.createdAt < $afterAt "
    "OR (j.createdAt = $afterAt AND j.id < $afterId)) "
    "RETURN " + _FIELDS + " ORDER BY j.createdAt DESC, j.id DESC LIMIT $limit"
)

FAIL_INTERRUPTED: LiteralString = (
    "MATCH (j:Job) WHERE j.status IN ['queued', 'running'] "
    "SET j.status = 'failed', j.errorCode = 'UNAVAILABLE', j.message = $message, "
    "j.finishedAt = $now "
    "RETURN count(j) AS n"
)
