"""Maintenance events and work orders."""

from typing import LiteralString

UPSERT_EVENTS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (a:Asset {id: r.assetId}) "
    "MERGE (m:MaintenanceEvent {id: r.id}) "
    "SET m.kind = r.kind, m.at = r.at, m.description = r.description, "
    "m.technician = r.technician, m.cost = r.cost, m.downtimeMinutes = r.downtimeMinutes "
    "MERGE (a)-[:HAS_MAINTENANCE]->(m)"
)
# Ids recorded again for another asset: an event or work order belongs to one asset.
EVENTS_OWNED_ELSEWHERE: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (m:MaintenanceEvent {id: r.id})<-[:HAS_MAINTENANCE]-(a:Asset) "
    "WHERE a.id <> r.assetId "
    "RETURN m.id AS id, a.id AS owner, r.assetId AS asked LIMIT 20"
)
WORK_ORDERS_OWNED_ELSEWHERE: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (w:WorkOrder {id: r.id})-[:FOR]->(a:Asset) "
    "WHERE a.id <> r.assetId "
    "RETURN w.id AS id, a.id AS owner, r.assetId AS asked LIMIT 20"
)
UPSERT_WORK_ORDERS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (a:Asset {id: r.assetId}) "
    "MERGE (w:WorkOrder {id: r.id}) "
    "SET w.status = r.status, w.priority = r.priority, w.createdAt = r.createdAt, "
    "w.dueAt = r.dueAt, w.reason = r.reason "
    "MERGE (w)-[:FOR]->(a)"
)
LINK_RESULTS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (w:WorkOrder {id: r.workOrderId}) "
    "MATCH (m:MaintenanceEvent {id: r.eventId}) "
    "MERGE (w)-[:RESULTED_IN]->(m)"
)

_EVENT_FIELDS: LiteralString = (
    "m.id AS id, a.id AS assetId, m.kind AS kind, m.at AS at, m.description AS description, "
    "m.technician AS technician, m.cost AS cost, m.downtimeMinutes AS downtimeMinutes, "
    "w.id AS workOrderId"
)

_FILTERS: LiteralString = (
    "($kind IS NULL OR m.kind = $kind) "
    "AND ($since IS NULL OR m.at >= $since) "
    "AND ($until IS NULL OR m.at < $until) "
    "AND ($technician IS NULL OR m.technician = $technician) "
)
# Newest first; the keyset cursor is (at, id) of the last event of the previous page
# (``at`` is fixed-width UTC text, so string order is time order).
_AFTER: LiteralString = (
    "AND ($afterAt IS NULL OR m.at < $afterAt OR (m.at = $afterAt AND m.id < $afterId)) "
)

# History of a set of assets, newest first, filtered.
EVENTS_FOR_ASSETS: LiteralString = (
    "UNWIND $ids AS aid "
    "MATCH (a:Asset {id: aid})-[:HAS_MAINTENANCE]->(m:MaintenanceEvent) "
    "WHERE " + _FILTERS + ""
    "OPTIONAL MATCH (w:WorkOrder)-[:RESULTED_IN]->(m) "
    "RETURN " + _EVENT_FIELDS + " ORDER BY m.at DESC, m.id DESC"
)
# One page per row {i, id, limit, kind, since, until, technician, afterAt, afterId}:
# many assets (each with its own filter and cursor), one statement.
EVENT_PAGES: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (a:Asset {id: r.id})-[:HAS_MAINTENANCE]->(m:MaintenanceEvent) "
    "WHERE (r.kind IS NULL OR m.kind = r.kind) "
    "AND (r.since IS NULL OR m.at >= r.since) "
    "AND (r.until IS NULL OR m.at < r.until) "
    "AND (r.technician IS NULL OR m.technician = r.technician) "
    "AND (r.afterAt IS NULL OR m.at < r.afterAt OR (m.at = r.afterAt AND m.id < r.afterId)) "
    "WITH r.i AS i, r.limit AS lim, a, m ORDER BY m.at DESC, m.id DESC "
    "WITH i, lim, a, collect(m)[0..lim] AS found "
    "UNWIND found AS m "
    "OPTIONAL MATCH (w:WorkOrder)-[:RESULTED_IN]->(m) "
    "RETURN i AS key, " + _EVENT_FIELDS + " ORDER BY key, m.at DESC, m.id DESC"
)
_UNDER: LiteralString = (
    "MATCH (root:Asset {id: $id}) "
    "OPTIONAL MATCH (root)<-[:PART_OF*1..12]-(d:Asset) "
    "WITH root, collect(DISTINCT d) AS below "
    "UNWIND below + [root] AS a "
    "MATCH (a)-[:HAS_MAINTENANCE]->(m:MaintenanceEvent) "
)
EVENTS_UNDER: LiteralString = (
    _UNDER + "WHERE " + _FILTERS + "OPTIONAL MATCH (w:WorkOrder)-[:RESULTED_IN]->(m) "
    "RETURN " + _EVENT_FIELDS + " ORDER BY m.at DESC, m.id DESC"
)
EVENTS_UNDER_PAGE: LiteralString = (
    _UNDER + "WHERE " + _FILTERS + _AFTER + "WITH a, m ORDER BY m.at DESC, m.id DESC LIMIT $limit "
    "OPTIONAL MATCH (w:WorkOrder)-[:RESULTED_IN]->(m) "
    "RETURN " + _EVENT_FIELDS + " ORDER BY m.at DESC, m.id DESC"
)
WORK_ORDERS_FOR_ASSETS: LiteralString = (
    "UNWIND $ids AS aid "
    "MATCH (a:Asset {id: aid})<-[:FOR]-(w:WorkOrder) "
    "WHERE $status IS NULL OR w.status = $status "
    "OPTIONAL MATCH (w)-[:RESULTED_IN]->(m:MaintenanceEvent) "
    "RETURN w.id AS id, a.id AS assetId, w.status AS status, w.priority AS priority, "
    "w.createdAt AS createdAt, w.dueAt AS dueAt, w.reason AS reason, w.note AS note, "
    "w.updatedAt AS updatedAt, w.assessmentId AS assessmentId, "
    "collect(m.id) AS eventIds ORDER BY w.createdAt DESC"
)

# Life clocks: the latest renewing event ($renewing: failure, replacement) of each asset,
# at or before $until (null: any time). ``at`` is fixed-width UTC text: max is the latest.
LAST_RENEWALS: LiteralString = (
    "UNWIND $ids AS aid "
    "MATCH (a:Asset {id: aid}) "
    "OPTIONAL MATCH (a)-[:HAS_MAINTENANCE]->(m:MaintenanceEvent) "
    "WHERE m.kind IN $renewing AND ($until IS NULL OR m.at <= $until) "
    "RETURN aid AS id, max(m.at) AS renewedAt"
)
# The fleet's recorded failures: every $failure event of the assets of a type (up to
# $until), each with the renewal before it (null: none recorded, the life began unseen).
FAILURES_OF_TYPE: LiteralString = (
    "MATCH (a:Asset {type: $type})-[:HAS_MAINTENANCE]->(f:MaintenanceEvent) "
    "WHERE f.kind = $failure AND ($until IS NULL OR f.at <= $until) "
    "OPTIONAL MATCH (a)-[:HAS_MAINTENANCE]->(r:MaintenanceEvent) "
    "WHERE r.kind IN $renewing AND r.at < f.at "
    "WITH a, f, max(r.at) AS renewedAt "
    "RETURN a.id AS assetId, f.id AS eventId, f.at AS failedAt, renewedAt "
    "ORDER BY assetId, failedAt"
)
