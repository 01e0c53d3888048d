"""Cypher of simulation runs: ``(:SimulationRun)-[:SIMULATES]->(:Asset)``."""

from typing import LiteralString

__all__ = [
    "CREATE_RUN",
    "FAIL_INTERRUPTED",
    "GET_RUNS",
    "LIST_RUNS",
    "UPDATE_RUN",
]

_FIELDS: LiteralString = (
    "r.id AS id, a.id AS assetId, r.kind AS kind, r.model AS model, r.status AS status, "
    "r.progress AS progress, r.message AS message, r.scenario AS scenario, "
    "r.summary AS summary, r.startAt AS startAt, r.createdAt AS createdAt, "
    "r.startedAt AS startedAt, r.finishedAt AS finishedAt, r.createdBy AS createdBy"
)

CREATE_RUN: LiteralString = (
    "MATCH (a:Asset {id: $assetId}) "
    "CREATE (r:SimulationRun {id: $id, kind: $kind, model: $model, status: $status, "
    "progress: 0.0, message: '', scenario: $scenario, startAt: $startAt, "
    "createdAt: $createdAt, createdBy: $createdBy})-[:SIMULATES]->(a) "
    "RETURN r.id AS id"
)

UPDATE_RUN: LiteralString = (
    "MATCH (r:SimulationRun {id: $id}) "
    "SET r.status = $status, r.progress = $progress, r.message = $message, "
    "r.summary = coalesce($summary, r.summary), "
    "r.startedAt = coalesce(r.startedAt, $startedAt), "
    "r.finishedAt = coalesce($finishedAt, r.finishedAt) "
    "RETURN r.id AS id"
)

GET_RUNS: LiteralString = (
    "UNWIND $ids AS rid MATCH (r:SimulationRun {id: rid})-[:SIMULATES]->(a:Asset) RETURN " + _FIELDS
)

# Newest first; the cursor is (createdAt, id) of the last row of the previous page.
LIST_RUNS: LiteralString = (
    "MATCH (a:Asset {id: $assetId})<-[:SIMULATES]-(r:SimulationRun) "
    "WHERE $afterAt IS NULL OR r.createdAt < $afterAt "
    "OR (r.createdAt = $afterAt AND r.id < $afterId) "
    "RETURN " + _FIELDS + " ORDER BY r.createdAt DESC, r.id DESC LIMIT $limit"
)

FAIL_INTERRUPTED: LiteralString = (
    "MATCH (r:SimulationRun) WHERE r.status IN ['queued', 'running'] "
    "SET r.status = 'failed', r.message = $message, r.finishedAt = $now "
    "RETURN count(r) AS n"
)
