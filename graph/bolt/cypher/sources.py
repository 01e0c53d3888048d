"""Data sources and their bindings: connector configuration kept as data in the graph."""

from typing import LiteralString

UPSERT_SOURCES: LiteralString = (
    "UNWIND $rows AS r "
    "MERGE (d:DataSource {id: r.id}) "
    "SET d.protocol = r.protocol, d.endpoint = r.endpoint, d.name = r.name, "
    "d.settings = r.settings, d.updatedAt = $now"
)
BIND_SENSORS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (d:DataSource {id: r.sourceId}) "
    "MATCH (s:Sensor {id: r.sensorId}) "
    "OPTIONAL MATCH (:DataSource)-[old:FEEDS_SENSOR]->(s) "
    "DELETE old "
    "WITH DISTINCT d, s, r "
    "CREATE (d)-[:FEEDS_SENSOR {address: r.address, scale: r.scale, offset: r.offset, "
    "dataType: r.dataType}]->(s)"
)
BIND_ACTUATORS: LiteralString = (
    "UNWIND $rows AS r "
    "MATCH (d:DataSource {id: r.sourceId}) "
    "MATCH (x:Actuator {id: r.actuatorId}) "
    "OPTIONAL MATCH (:DataSource)-[old:DRIVES]->(x) "
    "DELETE old "
    "WITH DISTINCT d, x, r "
    "CREATE (d)-[:DRIVES {address: r.address, dataType: r.dataType, scale: r.scale, "
    "offset: r.offset}]->(x)"
)
LIST_SOURCES: LiteralString = (
    "MATCH (d:DataSource) "
    "RETURN d.id AS id, d.protocol AS protocol, d.endpoint AS endpoint, d.name AS name, "
    "d.settings AS settings ORDER BY d.id"
)
GET_SOURCES: LiteralString = (
    "UNWIND $ids AS id MATCH (d:DataSource {id: id}) "
    "RETURN d.id AS id, d.protocol AS protocol, d.endpoint AS endpoint, d.name AS name, "
    "d.settings AS settings"
)
SENSOR_BINDINGS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (d:DataSource {id: id})-[b:FEEDS_SENSOR]->(s:Sensor)<-[:HAS_SENSOR]-(a:Asset) "
    "RETURN d.id AS sourceId, s.id AS sensorId, a.id AS assetId, b.address AS address, "
    "b.scale AS scale, b.offset AS offset, b.dataType AS dataType, "
    "s.samplingRateSeconds AS samplingRateSeconds ORDER BY s.id"
)
ACTUATOR_BINDINGS: LiteralString = (
    "UNWIND $ids AS id "
    "MATCH (d:DataSource {id: id})-[b:DRIVES]->(x:Actuator)<-[:HAS_ACTUATOR]-(a:Asset) "
    "RETURN d.id AS sourceId, x.id AS actuatorId, a.id AS assetId, b.address AS address, "
    "b.dataType AS dataType, b.scale AS scale, b.offset AS offset ORDER BY x.id"
)
BINDING_OF_ACTUATOR: LiteralString = (
    "UNWIND $ids AS xid "
    "MATCH (x:Actuator {id: xid})<-[b:DRIVES]-(d:DataSource) "
    "RETURN d.id AS sourceId, x.id AS actuatorId, b.address AS address, "
    "b.dataType AS dataType, b.scale AS scale, b.offset AS offset"
)
DELETE_SOURCES: LiteralString = "UNWIND $ids AS id MATCH (d:DataSource {id: id}) DETACH DELETE d"
