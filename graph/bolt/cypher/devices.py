"""Sensors and actuators, the measured and writable points of assets."""

from typing import LiteralString

_SENSOR_FIELDS: LiteralString = (
    "s.id AS id, a.id AS assetId, s.name AS name, s.kind AS kind, s.unit AS unit, "
    "s.minValue AS minValue, s.maxValue AS maxValue, "
    "s.samplingRateSeconds AS samplingRateSeconds, s.warnLow AS warnLow, s.warnHigh AS warnHigh, "
    "s.failLow AS failLow, s.failHigh AS failHigh"
)
_ACTUATOR_FIELDS: LiteralString = (
    "x.id AS id, a.id AS assetId, x.name AS name, x.unit AS unit, "
    "x.minValue AS minValue, x.maxValue AS maxValue"
)

UPSERT_SENSORS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (a:Asset {id: r.assetId}) "
    "MERGE (s:Sensor {id: r.id}) "
    "SET s.name = r.name, s.kind = r.kind, s.unit = r.unit, s.minValue = r.minValue, "
    "s.maxValue = r.maxValue, s.samplingRateSeconds = r.samplingRateSeconds, "
    "s.warnLow = r.warnLow, s.warnHigh = r.warnHigh, s.failLow = r.failLow, "
    "s.failHigh = r.failHigh, s.updatedAt = $now "
    "MERGE (a)-[:HAS_SENSOR]->(s)"
)
# A sensor moved to another asset loses its old HAS_SENSOR edge.
DETACH_SENSORS_FROM_OTHER_ASSETS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (s:Sensor {id: r.id})<-[old:HAS_SENSOR]-(o:Asset) "
    "WHERE o.id <> r.assetId "
    "DELETE old"
)
UPSERT_ACTUATORS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (a:Asset {id: r.assetId}) "
    "MERGE (x:Actuator {id: r.id}) "
    "SET x.name = r.name, x.unit = r.unit, x.minValue = r.minValue, "
    "x.maxValue = r.maxValue, x.updatedAt = $now "
    "MERGE (a)-[:HAS_ACTUATOR]->(x)"
)
DETACH_ACTUATORS_FROM_OTHER_ASSETS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (x:Actuator {id: r.id})<-[old:HAS_ACTUATOR]-(o:Asset) "
    "WHERE o.id <> r.assetId "
    "DELETE old"
)

SENSORS_BY_ASSET: LiteralString = (
    "UNWIND $ids AS aid "
    "MATCH (a:Asset {id: aid})-[:HAS_SENSOR]->(s:Sensor) "
    "RETURN " + _SENSOR_FIELDS + " ORDER BY s.id"
)
ACTUATORS_BY_ASSET: LiteralString = (
    "UNWIND $ids AS aid "
    "MATCH (a:Asset {id: aid})-[:HAS_ACTUATOR]->(x:Actuator) "
    "RETURN " + _ACTUATOR_FIELDS + " ORDER BY x.id"
)
GET_SENSORS: LiteralString = (
    "UNWIND $ids AS sid "
    "MATCH (s:Sensor {id: sid})<-[:HAS_SENSOR]-(a:Asset) "
    "RETURN " + _SENSOR_FIELDS
)
GET_ACTUATORS: LiteralString = (
    "UNWIND $ids AS xid "
    "MATCH (x:Actuator {id: xid})<-[:HAS_ACTUATOR]-(a:Asset) "
    "RETURN " + _ACTUATOR_FIELDS
)
SENSORS_UNDER: LiteralString = (
    "MATCH (root:Asset {id: $id}) "
    "OPTIONAL MATCH (root)<-[:PART_OF*1..12]-(d:Asset) "
    "WITH root, collect(DISTINCT d) AS below "
    "UNWIND below + [root] AS a "
    "MATCH (a)-[:HAS_SENSOR]->(s:Sensor) "
    "RETURN " + _SENSOR_FIELDS + " ORDER BY s.id"
)
ALL_SENSORS: LiteralString = (
    "MATCH (a:Asset)-[:HAS_SENSOR]->(s:Sensor) "
    "WHERE s.id > $after "
    "RETURN " + _SENSOR_FIELDS + " ORDER BY s.id LIMIT $limit"
)
# What stands in the way of deleting sensors and actuators: history and bindings.
SENSOR_GUARDS: LiteralString = (
    "UNWIND $ids AS sid "
    "MATCH (s:Sensor {id: sid}) "
    "RETURN sid AS id, COUNT { (:Alert)-[:RAISED_ON]->(s) } AS alerts, "
    "COUNT { (:DataSource)-[:FEEDS_SENSOR]->(s) } AS bindings"
)
ACTUATOR_GUARDS: LiteralString = (
    "UNWIND $ids AS xid "
    "MATCH (x:Actuator {id: xid}) "
    "RETURN xid AS id, COUNT { (:SetpointCommand)-[:TARGETS]->(x) } AS commands, "
    "COUNT { (:DataSource)-[:DRIVES]->(x) } AS bindings"
)
CASCADE_SENSOR_ALERTS: LiteralString = (
    "UNWIND $ids AS sid MATCH (:Sensor {id: sid})<-[:RAISED_ON]-(al:Alert) "
    "WITH DISTINCT al DETACH DELETE al"
)
CASCADE_ACTUATOR_COMMANDS: LiteralString = (
    "UNWIND $ids AS xid MATCH (:Actuator {id: xid})<-[:TARGETS]-(c:SetpointCommand) "
    "WITH DISTINCT c DETACH DELETE c"
)
# DETACH: the data source bindings (edges) go with the node; the data source stays.
DELETE_SENSORS: LiteralString = "UNWIND $ids AS sid MATCH (s:Sensor {id: sid}) DETACH DELETE s"
DELETE_ACTUATORS: LiteralString = "UNWIND $ids AS xid MATCH (x:Actuator {id: xid}) DETACH DELETE x"
