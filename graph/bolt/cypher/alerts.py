"""Alerts: ``(:Alert)-[:RAISED_ON]->(:Sensor)`` and ``-[:RAISED_ON]->(:Asset)``.

Patterns start from the indexed node (``Sensor``/``Asset``/``Alert`` by id): ArcadeDB
plans from the first pattern.
"""

from typing import LiteralString

# One row per raised alert: {id, sensorId, rule, severity, message, value, threshold,
# raisedAt}. The asset is the sensor's (HAS_SENSOR), looked up here. MERGE: a retried
# write after an unknown outcome creates nothing twice.
RAISE_ALERTS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (s:Sensor {id: r.sensorId})<-[:HAS_SENSOR]-(x:Asset) "
    "MERGE (a:Alert {id: r.id}) "
    "ON CREATE SET a.rule = r.rule, a.severity = r.severity, a.state = 'active', "
    "a.message = r.message, a.value = r.value, a.threshold = r.threshold, "
    "a.sensorId = s.id, a.assetId = x.id, a.raisedAt = r.raisedAt "
    "MERGE (a)-[:RAISED_ON]->(s) "
    "MERGE (a)-[:RAISED_ON]->(x) "
    "RETURN a.id AS id"
)
# One row per cleared alert: {id, clearedAt, value}. Acknowledgement fields stay.
CLEAR_ALERTS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (a:Alert {id: r.id}) "
    "SET a.state = 'cleared', a.clearedAt = r.clearedAt, a.clearedValue = r.value "
    "RETURN a.id AS id"
)
ACKNOWLEDGE_ALERT: LiteralString = (
    "MATCH (a:Alert {id: $id}) "
    "SET a.acknowledgedAt = $at, a.acknowledgedBy = $by, a.acknowledgeNote = $note, "
    "a.state = CASE WHEN a.clearedAt IS NULL THEN 'acknowledged' ELSE a.state END "
    "RETURN a.id AS id"
)

_FIELDS: LiteralString = (
    "a.id AS id, a.rule AS rule, a.severity AS severity, a.state AS state, "
    "a.message AS message, a.value AS value, a.threshold AS threshold, "
    "a.sensorId AS sensorId, a.assetId AS assetId, a.raisedAt AS raisedAt, "
    "a.clearedAt AS clearedAt, a.clearedValue AS clearedValue, "
    "a.acknowledgedAt AS acknowledgedAt, a.acknowledgedBy AS acknowledgedBy, "
    "a.acknowledgeNote AS acknowledgeNote"
)
_ACTIVE: LiteralString = (
    "($active IS NULL OR ($active AND a.clearedAt IS NULL) "
    "OR (NOT $active AND a.clearedAt IS NOT NULL))"
)
# Newest first; the cursor is (raisedAt, id) of the last row of the previous page
# ($afterAt '~' sorts after every timestamp: the first page).
_AFTER: LiteralString = "(a.raisedAt < $afterAt OR (a.raisedAt = $afterAt AND a.id < $afterId))"
_ORDER: LiteralString = " ORDER BY a.raisedAt DESC, a.id DESC"

GET_ALERTS: LiteralString = "UNWIND $ids AS aid MATCH (a:Alert {id: aid}) RETURN " + _FIELDS

ALERTS_PAGE: LiteralString = (
    "MATCH (a:Alert) WHERE "
    + _ACTIVE
    + " AND "
    + _AFTER
    + " RETURN "
    + _FIELDS
    + _ORDER
    + " LIMIT $limit"
)
ALERTS_PAGE_OF_ASSETS: LiteralString = (
    "UNWIND $ids AS xid "
    "MATCH (x:Asset {id: xid})<-[:RAISED_ON]-(a:Alert) "
    "WHERE " + _ACTIVE + " AND " + _AFTER + " RETURN " + _FIELDS + _ORDER + " LIMIT $limit"
)
# At most $limit alerts per node, newest first.
_NEWEST: LiteralString = (
    "WITH k, a ORDER BY a.raisedAt DESC, a.id DESC "
    "WITH k, collect(a)[0..$limit] AS found UNWIND found AS a "
    "RETURN k AS key, " + _FIELDS + " ORDER BY key, a.raisedAt DESC, a.id DESC"
)
ALERTS_OF_ASSETS: LiteralString = (
    "UNWIND $ids AS k "
    "MATCH (x:Asset {id: k})<-[:RAISED_ON]-(a:Alert) "
    "WHERE " + _ACTIVE + " " + _NEWEST
)
ALERTS_OF_SENSORS: LiteralString = (
    "UNWIND $ids AS k "
    "MATCH (s:Sensor {id: k})<-[:RAISED_ON]-(a:Alert) "
    "WHERE " + _ACTIVE + " " + _NEWEST
)
ACTIVE_ALERTS: LiteralString = (
    "MATCH (a:Alert) WHERE a.clearedAt IS NULL RETURN " + _FIELDS + " ORDER BY a.id"
)
