"""Work orders opened by health assessments: ``(:WorkOrder)-[:FOR]->(:Asset)``,
``(:WorkOrder)-[:FROM_ASSESSMENT]->(:HealthAssessment)``.

Opening one is race-safe: the transaction first writes the asset node (``LOCK_ASSET``),
which serialises concurrent openers for that asset (Neo4j holds the node's write lock to
the commit; ArcadeDB refuses the second commit, and the retry sees the first's order),
then looks for an active order, then creates one only where none is active.
"""

from typing import LiteralString

_FIELDS: LiteralString = (
    "w.id AS id, a.id AS assetId, w.status AS status, w.priority AS priority, "
    "w.createdAt AS createdAt, w.dueAt AS dueAt, w.reason AS reason, w.note AS note, "
    "w.updatedAt AS updatedAt, w.assessmentId AS assessmentId"
)

LOCK_ASSET: LiteralString = (
    "MATCH (a:Asset {id: $assetId}) SET a.workOrderLock = $token RETURN a.id AS id"
)
ACTIVE_FOR_ASSET: LiteralString = (
    "MATCH (a:Asset {id: $assetId})<-[:FOR]-(w:WorkOrder) "
    "WHERE w.status IN $active "
    "RETURN " + _FIELDS + " ORDER BY w.createdAt DESC, w.id DESC LIMIT 1"
)
CREATE_FOR_ASSET: LiteralString = (
    "MATCH (a:Asset {id: $assetId}) "
    "CREATE (w:WorkOrder {id: $id, status: $status, priority: $priority, "
    "createdAt: $createdAt, dueAt: $dueAt, reason: $reason, note: $note, "
    "updatedAt: $createdAt, assessmentId: $assessmentId}) "
    "CREATE (w)-[:FOR]->(a) "
    "RETURN " + _FIELDS
)
LINK_ASSESSMENT: LiteralString = (
    "MATCH (w:WorkOrder {id: $id}) "
    "MATCH (h:HealthAssessment {id: $assessmentId}) "
    "MERGE (w)-[:FROM_ASSESSMENT]->(h)"
)
GET_WORK_ORDER: LiteralString = "MATCH (w:WorkOrder {id: $id})-[:FOR]->(a:Asset) RETURN " + _FIELDS
# The status changes only from one of $sources (its legal predecessors): a concurrent
# change in between makes this match nothing, and the caller reports the conflict.
SET_STATUS: LiteralString = (
    "MATCH (w:WorkOrder {id: $id})-[:FOR]->(a:Asset) "
    "WHERE w.status IN $sources "
    "SET w.status = $status, w.note = $note, w.updatedAt = $now "
    "RETURN " + _FIELDS
)
# Newest first, by (createdAt, id) keyset; $assetId and $status null: any.
WORK_ORDER_PAGE: LiteralString = (
    "MATCH (w:WorkOrder)-[:FOR]->(a:Asset) "
    "WHERE ($assetId IS NULL OR a.id = $assetId) "
    "AND ($scope IS NULL OR a.id IN $scope) "
    "AND ($status IS NULL OR w.status = $status) "
    "AND ($afterAt IS NULL OR w.createdAt < $afterAt "
    "OR (w.createdAt = $afterAt AND w.id < $afterId)) "
    "RETURN " + _FIELDS + " ORDER BY w.createdAt DESC, w.id DESC LIMIT $limit"
)

# The same for many assets in one transaction (a fleet assessment): lock them all, read
# their active orders, create orders for the others.
LOCK_ASSETS: LiteralString = (
    "UNWIND $ids AS aid MATCH (a:Asset {id: aid}) SET a.workOrderLock = $token RETURN a.id AS id"
)
ACTIVE_FOR_ASSETS: LiteralString = (
    "UNWIND $ids AS aid "
    "MATCH (a:Asset {id: aid})<-[:FOR]-(w:WorkOrder) "
    "WHERE w.status IN $active "
    "RETURN " + _FIELDS + " ORDER BY assetId, w.createdAt DESC, w.id DESC"
)
CREATE_FOR_ASSETS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (a:Asset {id: r.assetId}) "
    "CREATE (w:WorkOrder {id: r.id, status: r.status, priority: r.priority, "
    "createdAt: r.createdAt, dueAt: r.dueAt, reason: r.reason, note: r.note, "
    "updatedAt: r.createdAt, assessmentId: r.assessmentId}) "
    "CREATE (w)-[:FOR]->(a) "
    "RETURN " + _FIELDS
)
LINK_ASSESSMENTS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (w:WorkOrder {id: r.id}) "
    "MATCH (h:HealthAssessment {id: r.assessmentId}) "
    "MERGE (w)-[:FROM_ASSESSMENT]->(h)"
)
