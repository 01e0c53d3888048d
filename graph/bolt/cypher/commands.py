"""Setpoint commands: the audit trail of every write to an actuator."""

from typing import LiteralString

CREATE_COMMAND: LiteralString = (
    "MATCH (x:Actuator {id: $actuatorId}) "
    "CREATE (c:SetpointCommand {id: $id, actuatorId: $actuatorId, assetId: $assetId, "
    "value: $value, status: $status, requestedBy: $requestedBy, reason: $reason, "
    "requestedAt: $requestedAt, sourceId: $sourceId})-[:TARGETS]->(x) "
    "RETURN c.id AS id"
)
COMPLETE_COMMAND: LiteralString = (
    "MATCH (c:SetpointCommand {id: $id}) "
    "SET c.status = $status, c.completedAt = $completedAt, "
    "c.confirmedValue = $confirmedValue, c.message = $message, c.sourceId = $sourceId "
    "RETURN c.id AS id"
)
_FIELDS: LiteralString = (
    "c.id AS id, x.id AS actuatorId, c.assetId AS assetId, c.value AS value, "
    "c.status AS status, c.requestedBy AS requestedBy, c.reason AS reason, "
    "c.requestedAt AS requestedAt, c.completedAt AS completedAt, "
    "c.confirmedValue AS confirmedValue, c.message AS message, c.sourceId AS sourceId"
)
GET_COMMANDS: LiteralString = (
    "UNWIND $ids AS cid MATCH (c:SetpointCommand {id: cid})-[:TARGETS]->(x:Actuator) RETURN "
    + _FIELDS
)
COMMANDS_FOR_ACTUATORS: LiteralString = (
    "UNWIND $ids AS xid "
    "MATCH (x:Actuator {id: xid})<-[:TARGETS]-(c:SetpointCommand) "
    "RETURN " + _FIELDS + " ORDER BY c.requestedAt DESC, c.id DESC"
)
