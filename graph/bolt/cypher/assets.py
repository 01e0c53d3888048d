"""Assets and the PART_OF hierarchy."""

from typing import LiteralString

_ASSET_FIELDS: LiteralString = (
    "a.id AS id, a.name AS name, a.type AS type, a.level AS level, "
    "a.description AS description, a.lat AS lat, a.lon AS lon, a.metadata AS metadata, "
    "a.createdAt AS createdAt, a.updatedAt AS updatedAt"
)

UPSERT_ASSETS: LiteralString = (
    "UNWIND $rows AS r "
    "MERGE (a:Asset {id: r.id}) "
    "ON CREATE SET a.createdAt = $now "
    "SET a.name = r.name, a.type = r.type, a.level = r.level, "
    "a.description = r.description, a.lat = r.lat, a.lon = r.lon, "
    "a.metadata = r.metadata, a.updatedAt = $now"
)

# Re-parenting: drop the old PART_OF edge, then link to the new parent.
DETACH_FROM_PARENT: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (c:Asset {id: r.id})-[old:PART_OF]->(p:Asset) "
    "WHERE r.parent IS NULL OR p.id <> r.parent "
    "DELETE old"
)
LINK_TO_PARENT: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (c:Asset {id: r.id}) "
    "MATCH (p:Asset {id: r.parent}) "
    "MERGE (c)-[:PART_OF]->(p)"
)

GET_ASSETS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (a:Asset {id: id}) "
    "OPTIONAL MATCH (a)-[:PART_OF]->(p:Asset) "
    "RETURN " + _ASSET_FIELDS + ", p.id AS parentId"
)

CHILDREN_OF: LiteralString = (
    "UNWIND $ids AS pid "
    "MATCH (p:Asset {id: pid})<-[:PART_OF]-(a:Asset) "
    "RETURN pid AS parentKey, " + _ASSET_FIELDS + ", p.id AS parentId "
    "ORDER BY a.id"
)

# One page of children per row {i, id, after, limit}, ordered by id after the cursor:
# many parents, one statement (collect()[..n] keeps the first n of the ordered rows).
CHILDREN_PAGES: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (p:Asset {id: r.id})<-[:PART_OF]-(a:Asset) "
    "WHERE a.id > r.after "
    "WITH r.i AS i, r.limit AS lim, p, a ORDER BY a.id "
    "WITH i, lim, p, collect(a)[0..lim] AS kids "
    "UNWIND kids AS a "
    "RETURN i AS key, " + _ASSET_FIELDS + ", p.id AS parentId "
    "ORDER BY key, a.id"
)

# A sensor of asset a as a map (null without one: collect() drops it).
_SENSOR_MAP: LiteralString = (
    "CASE WHEN s IS NULL THEN null ELSE {"
    "id: s.id, assetId: a.id, name: s.name, kind: s.kind, unit: s.unit, "
    "minValue: s.minValue, maxValue: s.maxValue, samplingRateSeconds: s.samplingRateSeconds, "
    "warnLow: s.warnLow, warnHigh: s.warnHigh, failLow: s.failLow, failHigh: s.failHigh"
    "} END"
)

# CHILDREN_PAGES with each child's sensors (as SENSORS_BY_ASSET's rows, ordered by id):
# a tree level and the sensors it shows, one round trip.
CHILDREN_PAGES_WITH_SENSORS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (p:Asset {id: r.id})<-[:PART_OF]-(a:Asset) "
    "WHERE a.id > r.after "
    "WITH r.i AS i, r.limit AS lim, p, a ORDER BY a.id "
    "WITH i, lim, p, collect(a)[0..lim] AS kids "
    "UNWIND kids AS a "
    "OPTIONAL MATCH (a)-[:HAS_SENSOR]->(s:Sensor) "
    "WITH i, p, a, s ORDER BY s.id "
    "WITH i, p, a, collect(" + _SENSOR_MAP + ") AS sensors "
    "RETURN i AS key, " + _ASSET_FIELDS + ", p.id AS parentId, sensors "
    "ORDER BY key, a.id"
)

COUNT_CHILDREN: LiteralString = (
    "UNWIND $ids AS pid "
    "MATCH (p:Asset {id: pid}) "
    "RETURN pid AS id, COUNT { (p)<-[:PART_OF]-(:Asset) } AS n"
)

LIST_ASSETS: LiteralString = (
    "MATCH (a:Asset) "
    "WHERE a.id > $after "
    "AND ($level IS NULL OR a.level = $level) "
    "AND ($type IS NULL OR a.type = $type) "
    "AND ($text IS NULL OR toLower(a.id) CONTAINS $text OR toLower(a.name) CONTAINS $text) "
    "AND ($scope IS NULL OR a.id IN $scope) "
    "OPTIONAL MATCH (a)-[:PART_OF]->(p:Asset) "
    "RETURN " + _ASSET_FIELDS + ", p.id AS parentId "
    "ORDER BY a.id LIMIT $limit"
)

ROOTS: LiteralString = (
    "MATCH (a:Asset) "
    "WHERE a.id > $after AND NOT (a)-[:PART_OF]->(:Asset) "
    "RETURN " + _ASSET_FIELDS + ", null AS parentId "
    "ORDER BY a.id LIMIT $limit"
)

# Subtrees and ancestors of many assets, one statement: rows keyed by the start id. They
# walk PART_OF with a fixed upper bound (a bound cannot be a parameter); depth is filtered.
_SUBTREES: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH path = (:Asset {id: id})<-[:PART_OF*1..12]-(a:Asset) "
    "WITH id, a, length(path) AS depth "
    "WHERE depth <= $depth "
)
_WITH_PARENT: LiteralString = (
    "OPTIONAL MATCH (a)-[:PART_OF]->(p:Asset) "
    "RETURN id AS key, " + _ASSET_FIELDS + ", p.id AS parentId, depth "
    "ORDER BY key, depth, a.id"
)
SUBTREES: LiteralString = _SUBTREES + _WITH_PARENT
# Nearest first, cut per start asset (collect()[..n] keeps the first n of the ordered
# rows), so one start with a large subtree does not crowd out the others.
SUBTREES_LIMITED: LiteralString = (
    _SUBTREES + "WITH id, a, depth ORDER BY depth, a.id "
    "WITH id, collect({a: a, depth: depth})[0..$limit] AS found "
    "UNWIND found AS f "
    "WITH id, f.a AS a, f.depth AS depth " + _WITH_PARENT
)

# SUBTREES_LIMITED with each asset's sensors (as SENSORS_BY_ASSET's rows, by id): a
# tree and the sensors it shows, one round trip.
SUBTREES_LIMITED_WITH_SENSORS: LiteralString = (
    _SUBTREES + "WITH id, a, depth ORDER BY depth, a.id "
    "WITH id, collect({a: a, depth: depth})[0..$limit] AS found "
    "UNWIND found AS f "
    "WITH id, f.a AS a, f.depth AS depth "
    "OPTIONAL MATCH (a)-[:PART_OF]->(p:Asset) "
    "OPTIONAL MATCH (a)-[:HAS_SENSOR]->(s:Sensor) "
    "WITH id, a, depth, p, s ORDER BY s.id "
    "WITH id, a, depth, p, collect(" + _SENSOR_MAP + ") AS sensors "
    "RETURN id AS key, " + _ASSET_FIELDS + ", p.id AS parentId, depth, sensors "
    "ORDER BY key, depth, a.id"
)

ANCESTORS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH path = (:Asset {id: id})-[:PART_OF*1..12]->(a:Asset) "
    "WITH id, a, length(path) AS depth " + _WITH_PARENT
)

# What stands in the way of deleting assets: children, parts and every kind of history.
DELETE_GUARDS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (a:Asset {id: id}) "
    "RETURN id, "
    "COUNT { (a)<-[:PART_OF]-(:Asset) } AS children, "
    "COUNT { (a)-[:HAS_SENSOR]->(:Sensor) } AS sensors, "
    "COUNT { (a)-[:HAS_ACTUATOR]->(:Actuator) } AS actuators, "
    "COUNT { (a)-[:HAS_MAINTENANCE]->(:MaintenanceEvent) } AS maintenance, "
    "COUNT { (:WorkOrder)-[:FOR]->(a) } AS workOrders, "
    "COUNT { (a)-[:HAS_ACTUATOR]->(:Actuator)<-[:TARGETS]-(:SetpointCommand) } AS commands, "
    "COUNT { (:Alert)-[:RAISED_ON]->(a) } AS alerts, "
    "COUNT { (:SimulationRun)-[:SIMULATES]->(a) } AS simulationRuns, "
    "COUNT { (a)-[:ASSESSED]->(:HealthAssessment) } AS assessments, "
    "COUNT { (:AnomalyModel)-[:MODELS]->(a) } AS anomalyModels"
)

# The roots of a scoped token's forest: its assets whose parent is not one of them.
SCOPE_ROOTS: LiteralString = (
    "MATCH (a:Asset) "
    "WHERE a.id > $after AND a.id IN $scope "
    "OPTIONAL MATCH (a)-[:PART_OF]->(p:Asset) "
    "WITH a, p WHERE p IS NULL OR NOT (p.id IN $scope) "
    "RETURN " + _ASSET_FIELDS + ", p.id AS parentId "
    "ORDER BY a.id LIMIT $limit"
)

# Every asset at or below some roots (a token's scope): the roots that exist and their
# descendants, one row per root.
SUBTREES_IDS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (root:Asset {id: id}) "
    "OPTIONAL MATCH (root)<-[:PART_OF*1..12]-(a:Asset) "
    "RETURN root.id AS rootId, collect(DISTINCT a.id) AS ids"
)

SUBTREE_IDS: LiteralString = (
    "MATCH (root:Asset {id: $id}) "
    "OPTIONAL MATCH (root)<-[:PART_OF*1..12]-(a:Asset) "
    "RETURN root.id AS rootId, collect(DISTINCT a.id) AS ids"
)

# Cascade, in order: what hangs off sensors and actuators (alerts, the setpoint audit
# trail), then the assets' own history, then their sensors, actuators and themselves.
# Each statement is one kind of node, so no row multiplies another.
CASCADE_SENSOR_ALERTS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (:Asset {id: id})-[:HAS_SENSOR]->(:Sensor)<-[:RAISED_ON]-(al:Alert) "
    "WITH DISTINCT al DETACH DELETE al"
)
CASCADE_COMMANDS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (:Asset {id: id})-[:HAS_ACTUATOR]->(:Actuator)<-[:TARGETS]-(c:SetpointCommand) "
    "WITH DISTINCT c DETACH DELETE c"
)
CASCADE_ASSET_ALERTS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (:Asset {id: id})<-[:RAISED_ON]-(al:Alert) "
    "WITH DISTINCT al DETACH DELETE al"
)
CASCADE_WORK_ORDERS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (:Asset {id: id})<-[:FOR]-(w:WorkOrder) "
    "WITH DISTINCT w DETACH DELETE w"
)
CASCADE_SIMULATION_RUNS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (:Asset {id: id})<-[:SIMULATES]-(r:SimulationRun) "
    "WITH DISTINCT r DETACH DELETE r"
)
CASCADE_ASSESSMENTS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (:Asset {id: id})-[:ASSESSED]->(h:HealthAssessment) "
    "WITH DISTINCT h DETACH DELETE h"
)
CASCADE_ANOMALY_MODELS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (:Asset {id: id})<-[:MODELS]-(m:AnomalyModel) "
    "WITH DISTINCT m DETACH DELETE m"
)
CASCADE_MAINTENANCE: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (:Asset {id: id})-[:HAS_MAINTENANCE]->(m:MaintenanceEvent) "
    "WITH DISTINCT m DETACH DELETE m"
)
CASCADE_DEVICES: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (:Asset {id: id})-[:HAS_SENSOR|HAS_ACTUATOR]->(x) "
    "WITH DISTINCT x DETACH DELETE x"
)
CASCADE_ORDER: tuple[LiteralString, ...] = (
    CASCADE_SENSOR_ALERTS,
    CASCADE_COMMANDS,
    CASCADE_ASSET_ALERTS,
    CASCADE_WORK_ORDERS,
    CASCADE_SIMULATION_RUNS,
    CASCADE_ASSESSMENTS,
    CASCADE_ANOMALY_MODELS,
    CASCADE_MAINTENANCE,
    CASCADE_DEVICES,
)

# Only once nothing is attached (guards or cascade): what remains are process relations.
DELETE_ASSETS: LiteralString = "UNWIND $ids AS id MATCH (a:Asset {id: id}) DETACH DELETE a"

COUNT_BY_LABEL: LiteralString = (
    "OPTIONAL MATCH (a:Asset) WITH count(a) AS assets "
    "OPTIONAL MATCH (s:Sensor) WITH assets, count(s) AS sensors "
    "OPTIONAL MATCH (x:Actuator) "
    "RETURN assets, sensors, count(x) AS actuators"
)

# Simulation and production-line specs kept with the asset (serialised JSON).
SET_SPECS: LiteralString = (
    "UNWIND $rows AS r MATCH (a:Asset {id: r.id}) SET a.simSpec = r.sim, a.stationSpec = r.station"
)
GET_SPECS: LiteralString = (
    "UNWIND $ids AS id MATCH (a:Asset {id: id}) "
    "RETURN a.id AS id, a.simSpec AS sim, a.stationSpec AS station"
)
SET_SIM_PARAMETERS: LiteralString = (
    "MATCH (a:Asset {id: $id}) SET a.simSpec = $sim, a.updatedAt = $now RETURN a.id AS id"
)
